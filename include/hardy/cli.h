/* Command-line plumbing shared by the subcommands: flag parsing helpers and the command
 * entry points that main.c dispatches to. Each command lives in src/cli/cmd_<name>.c, takes
 * (argc, argv) with argv[0] = the command name, is collective over MPI_COMM_WORLD, and returns
 * a status (0, HARDY_ERR_INPUT, HARDY_ERR_RUNTIME, or the preemption status) already agreed
 * across ranks; rank 0 prints the error. */
#ifndef HARDY_CLI_H
#define HARDY_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hardy/config.h"

int hardy_cmd_synth(int argc, char **argv);
int hardy_cmd_inspect(int argc, char **argv);
int hardy_cmd_train(int argc, char **argv);
int hardy_cmd_sweep(int argc, char **argv);
int hardy_cmd_eval(int argc, char **argv);
int hardy_cmd_knn(int argc, char **argv);
int hardy_cmd_hardness(int argc, char **argv);
int hardy_cmd_bench(int argc, char **argv);
int hardy_cmd_config(int argc, char **argv);

/* Flag value parsing with errors that name the flag. */
int hardy_cli_int64(const char *flag, const char *text, int64_t lo, int64_t hi, int64_t *out);
int hardy_cli_double(const char *flag, const char *text, double lo, double hi, double *out);
/* argv[i] is a flag that needs a value: return argv[i+1] or record an error and return NULL. */
const char *hardy_cli_value(int argc, char **argv, int i);

/* Parse `CONFIG [--set k=v ...] [--out DIR] [--quiet]` into cfg (file, then overrides, then
 * finalize). Local; callers agree on the status. */
int hardy_cli_parse_config(int argc, char **argv, hardy_config_t *cfg, const char **out_dir,
                           bool *quiet);
/* Threads per rank from run.threads, else OMP_NUM_THREADS, else the CPUs of the rank's
 * affinity mask over the ranks sharing them (placement.h); the same for OpenBLAS; rank 0 logs
 * the placement. Collective over MPI_COMM_WORLD. */
int hardy_cli_apply_threads(const hardy_config_t *cfg);

/* `hardy-hpc --version`: version, git commit, MPI library, BLAS, HDF5, ScaLAPACK on stdout.
 * Local (rank 0 calls it). */
void hardy_version_print(void);

#endif
