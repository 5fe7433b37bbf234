/* hardy-hpc: the command-line program. Initialises MPI and OpenMP, dispatches to a
 * subcommand, prints the agreed error on rank 0, and maps the status to the exit code
 * (0 ok, 2 bad input or usage, 3 runtime failure, 143 checkpointed after a stop signal). */
#include <mpi.h>
#include <omp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hardy/cli.h"
#include "hardy/common.h"
#include "hardy/run.h"

typedef struct {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *summary;
} command_t;

static const command_t COMMANDS[] = {
    {"synth", hardy_cmd_synth, "write a synthetic dataset (any size, collectively from all ranks)"},
    {"inspect", hardy_cmd_inspect, "validate a dataset file and summarise it (--json)"},
    {"knn", hardy_cmd_knn, "exact k-nearest-neighbour table of a split (distributed)"},
    {"config", hardy_cmd_config, "validate a configuration and print the effective one"},
    {"train", hardy_cmd_train, "train and evaluate: teacher, stage 1, hardness, stage 2, test"},
    {"eval", hardy_cmd_eval, "evaluate a saved model under a missing condition or rate"},
    {"sweep", hardy_cmd_sweep, "train every line of a sweep file in one job, groups of ranks in parallel"},
    {"hardness", hardy_cmd_hardness, "train the teacher and score every training utterance"},
    {"bench", hardy_cmd_bench, "benchmarks against baselines measured in the same run"},
};
#define N_COMMANDS (sizeof COMMANDS / sizeof COMMANDS[0])

static void usage(FILE *out) {
  fprintf(out,
          "hardy-hpc %s: hardness-aware dynamic curriculum learning (HARDY-MER) for multimodal\n"
          "emotion recognition with missing modalities, distributed with MPI.\n\n"
          "usage: mpirun -n RANKS hardy-hpc <command> [options]\n\ncommands:\n",
          HARDY_VERSION);
  for (size_t i = 0; i < N_COMMANDS; i++)
    fprintf(out, "  %-10s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
  fprintf(out, "\n`hardy-hpc <command> --help` describes each command.\n"
               "Exit codes: 0 ok, 2 bad input or usage, 3 runtime failure, 143 stopped by a "
               "signal after writing a checkpoint (resume with --resume).\n");
}

/* The agreed error: cause and fix first; the source locations HARDY_CHECK appended
 * ("  at file:line: call") only with HARDY_DEBUG=1 (status.json always keeps them). */
static void print_error(void) {
  const char *msg = hardy_error_message(), *debug = getenv("HARDY_DEBUG");
  bool locations = debug && debug[0] && strcmp(debug, "0");
  fputs("hardy: error: ", stderr);
  for (const char *line = msg; *line;) {
    size_t len = strcspn(line, "\n");
    if (locations || strncmp(line, "  at ", 5)) fprintf(stderr, "%.*s\n", (int)len, line);
    line += len + (line[len] == '\n');
  }
}

int main(int argc, char **argv) {
  int provided = 0;
  if (MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
    fprintf(stderr, "hardy: MPI_Init_thread failed\n");
    return HARDY_EXIT_RUNTIME;
  }
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  hardy_run_set_command_line(argc, argv);
  int status = HARDY_OK;
  if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
    if (rank == 0) usage(argc < 2 ? stderr : stdout);
    status = argc < 2 ? HARDY_ERR_INPUT : HARDY_OK;
  } else if (!strcmp(argv[1], "--version")) {
    if (rank == 0) hardy_version_print();
  } else {
    const command_t *cmd = NULL;
    for (size_t i = 0; i < N_COMMANDS; i++)
      if (!strcmp(argv[1], COMMANDS[i].name)) cmd = &COMMANDS[i];
    if (!cmd) {
      if (rank == 0) {
        fprintf(stderr, "hardy: unknown command '%s'\n\n", argv[1]);
        usage(stderr);
      }
      status = HARDY_ERR_INPUT;
    } else {
      status = cmd->run(argc - 1, argv + 1);
      if (status < 0 && status != HARDY_STATUS_PREEMPTED && rank == 0) print_error();
    }
  }
  MPI_Finalize();
  if (status == HARDY_STATUS_PREEMPTED) return HARDY_EXIT_PREEMPTED;
  return hardy_exit_code(status);
}
