/* Flag parsing helpers of the subcommands; see cli.h. */
#include "hardy/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hardy/common.h"
#include "hardy/log.h"

int hardy_cli_int64(const char *flag, const char *text, int64_t lo, int64_t hi, int64_t *out) {
  errno = 0;
  char *end = NULL;
  long long v = strtoll(text, &end, 10);
  if (errno || end == text || *end)
    return hardy_fail(HARDY_ERR_INPUT, "%s '%s': expected an integer", flag, text);
  if (v < lo || v > hi)
    return hardy_fail(HARDY_ERR_INPUT, "%s %lld: must be in [%lld, %lld]", flag, v, (long long)lo,
                      (long long)hi);
  *out = v;
  return HARDY_OK;
}

int hardy_cli_double(const char *flag, const char *text, double lo, double hi, double *out) {
  errno = 0;
  char *end = NULL;
  double v = strtod(text, &end);
  if (errno || end == text || *end)
    return hardy_fail(HARDY_ERR_INPUT, "%s '%s': expected a number", flag, text);
  if (!(v >= lo && v <= hi))
    return hardy_fail(HARDY_ERR_INPUT, "%s %g: must be in [%g, %g]", flag, v, lo, hi);
  *out = v;
  return HARDY_OK;
}

const char *hardy_cli_value(int argc, char **argv, int i) {
  if (i + 1 >= argc) {
    hardy_fail(HARDY_ERR_INPUT, "%s needs a value (see --help)", argv[i]);
    return NULL;
  }
  return argv[i + 1];
}
