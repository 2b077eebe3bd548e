/* textline.h -- the next line of a text held in memory, for the INI readers (profiles, the
 * diagnosis settings file, the client UI vocabulary): each hands inih one line at a time
 * through its own stream reader, so that it knows the line number of everything it reports. */
#ifndef MAILRIG_SERVERS_TEXTLINE_H
#define MAILRIG_SERVERS_TEXTLINE_H

#include <stddef.h>

/* The line of text[0..len) that starts at *pos: *line and *n get it without its '\n' (a '\r'
 * before it stays: the caller trims), and *pos moves past it. On the first line (*pos 0) a
 * UTF-8 byte-order mark is dropped. Returns 1, or 0 when *pos is at the end. */
int textline_next(const char *text, size_t len, size_t *pos, const char **line, size_t *n);

#endif
