/* fuzz_log_transcript.c -- the transcript log reader (harness/log_transcript.c): any bytes read as
 * that format, then with detection; oracle in fuzz/log_fuzz.h. */
#include "fuzz/log_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return log_fuzz_one(data, size, LOG_FMT_TRANSCRIPT);
}
