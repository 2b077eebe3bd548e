/* paths.h -- where mailrig finds its data files (profiles/, scenarios/, clients/).
 *
 * The data directory is, in order:
 *   1. $MAILRIG_DATA, when set and not empty (used as given, even if it does not exist, so a
 *      typo is reported instead of silently falling back);
 *   2. the source tree the running binary was built in: a binary at ROOT/build/VARIANT/bin/NAME
 *      (mailrig, or a test program) uses ROOT, when ROOT/profiles is a directory;
 *   3. /usr/share/mailrig (an installed mailrig).
 * Nothing is cached: every call looks again, so tests may change MAILRIG_DATA.
 */
#ifndef MAILRIG_SERVERS_PATHS_H
#define MAILRIG_SERVERS_PATHS_H

#include <stddef.h>

#define PATHS_SYSTEM_DATA_DIR "/usr/share/mailrig"

/* Write the data directory (no trailing slash) into buf. Returns its length, or -1 when it
 * does not fit in cap (buf then holds ""). */
int paths_data_dir(char *buf, size_t cap);

/* The data directory that a binary at exe_path would use when MAILRIG_DATA is unset:
 * ROOT for ROOT/build/VARIANT/bin/NAME when ROOT/profiles is a directory, else
 * PATHS_SYSTEM_DATA_DIR. Exposed for tests. Returns the length or -1 as paths_data_dir(). */
int paths_data_dir_for_exe(const char *exe_path, char *buf, size_t cap);

/* Join data_dir, a subdirectory and a file name: "<data>/profiles/icloud.ini". Returns the
 * length, or -1 when it does not fit. */
int paths_join(char *buf, size_t cap, const char *dir, const char *sub, const char *file);

#endif
