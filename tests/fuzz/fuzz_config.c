/* Fuzz target: the configuration reader. The input is INI text, then optionally a NUL byte and
 * `--set` assignments one per line; the effective configuration is validated and written out
 * as `hardy-hpc config` would. Any result is fine except a crash, a leak or UB. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hardy/common.h"
#include "hardy/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1);
  if (!text) return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  size_t ini_len = strlen(text); /* up to the first NUL */
  hardy_config_t *cfg = malloc(sizeof *cfg);
  hardy_config_defaults(cfg);
  int rc = hardy_config_load_string(cfg, text, "fuzz.ini");
  for (char *line = ini_len < size ? text + ini_len + 1 : NULL, *next; rc == HARDY_OK && line;
       line = next) {
    next = strchr(line, '\n');
    if (next) *next++ = '\0';
    if (*line) rc = hardy_config_set(cfg, line, "--set");
  }
  if (rc == HARDY_OK) rc = hardy_config_finalize(cfg);
  if (rc == HARDY_OK) {
    char *echo = hardy_config_to_string(cfg);
    /* the echo of a valid configuration must read back to the same configuration */
    hardy_config_t *again = malloc(sizeof *again);
    hardy_config_defaults(again);
    if (echo && (hardy_config_load_string(again, echo, "echo") != HARDY_OK ||
                 hardy_config_finalize(again) != HARDY_OK)) {
      fprintf(stderr, "the echo of a valid configuration does not load: %s\n--- echo:\n%s\n",
              hardy_error_message(), echo);
      abort();
    }
    free(again);
    free(echo);
  }
  hardy_error_clear();
  free(cfg);
  free(text);
  return 0;
}
