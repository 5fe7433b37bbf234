/* `hardy-hpc config [CONFIG] [--set k=v ...]`: validate a configuration and print the
 * effective one (every key), or `--schema` to list every key with its default and help. */
#include <stdio.h>
#include <string.h>

#include "hardy/cli.h"
#include "hardy/common.h"
#include "hardy/config.h"

static const char *USAGE =
    "usage: hardy-hpc config [CONFIG.ini] [--set section.key=value ...] [--schema]\n"
    "Validate a configuration and print the effective one (every key, defaults filled in).\n"
    "  --set k=v   override one key (repeatable)\n"
    "  --schema    list every key with its type, range, default and meaning\n";

int hardy_cmd_config(int argc, char **argv) {
  hardy_config_t cfg;
  hardy_config_defaults(&cfg);
  int rc = HARDY_OK;
  for (int i = 1; i < argc && rc == HARDY_OK; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      if (hardy_world_rank() == 0) fputs(USAGE, stdout);
      return HARDY_OK;
    } else if (!strcmp(argv[i], "--schema")) {
      if (hardy_world_rank() == 0) hardy_config_print_schema(stdout);
      return HARDY_OK;
    } else if (!strcmp(argv[i], "--set")) {
      const char *v = hardy_cli_value(argc, argv, i++);
      rc = v ? hardy_config_set(&cfg, v, "--set") : HARDY_ERR_INPUT;
    } else if (!strncmp(argv[i], "--set=", 6)) {
      rc = hardy_config_set(&cfg, argv[i] + 6, "--set");
    } else if (argv[i][0] == '-') {
      rc = hardy_fail(HARDY_ERR_INPUT, "config: unknown option '%s' (see --help)", argv[i]);
    } else {
      rc = hardy_config_load_file(&cfg, argv[i]);
    }
  }
  if (rc == HARDY_OK) rc = hardy_config_finalize(&cfg);
  rc = hardy_agree(rc, MPI_COMM_WORLD);
  if (rc == HARDY_OK && hardy_world_rank() == 0) rc = hardy_config_write(&cfg, stdout);
  return rc;
}
