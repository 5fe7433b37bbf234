/* Cross-modal mutual-information estimators for indirect hardness.
 *
 * `entropy` (local): I^{mn} = H(z^m) + H(z^n) - H(j^{mn}), H the entropy of softmax over the
 * hidden features, computed in double with the max shift.
 *
 * `gaussian` (collective fit, local evaluation): pointwise MI under a joint Gaussian fitted to
 * the training-set embeddings of all ranks. The mean and the centred scatter matrix of
 * [z^a; z^t; z^v] (3H x 3H, double, per-rank DSYRK over row blocks) are two MPI_Allreduce
 * passes (mean first, then the centred scatter, which avoids the cancellation of
 * E[x x'] - mu mu'). The six ridged covariances (three 2H x 2H pair joints, three H x H
 * marginals) are factored with ScaLAPACK pdpotrf in block-cyclic layout on a near-square BLACS
 * grid over all ranks of the communicator. Each factor is then replicated (every rank adds its
 * local blocks into a zeroed matrix, one MPI_Allreduce), and each rank evaluates the
 * log-densities of its own rows with a local DTRSM on blocks of rows: no embeddings move
 * between ranks (docs/HARDNESS.md explains the choice over pdtrsm).
 * hardy_gauss_mi_ref is the plain serial twin (own Cholesky, forward substitution). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hardy/common.h"
#include "hardy/hardness.h"

const int HARDY_PAIR_MOD[HARDY_N_PAIR][2] = {{0, 1}, {0, 2}, {1, 2}};
static const char MOD_NAME[3] = {'a', 't', 'v'};

/* Fortran BLAS and ScaLAPACK, and the C BLACS interface (Debian ships no header). Trailing
 * size_t arguments are the hidden lengths of character arguments (gfortran ABI). */
extern void dsyrk_(const char *uplo, const char *trans, const int *n, const int *k,
                   const double *alpha, const double *a, const int *lda, const double *beta,
                   double *c, const int *ldc, size_t, size_t);
extern void dtrsm_(const char *side, const char *uplo, const char *transa, const char *diag,
                   const int *m, const int *n, const double *alpha, const double *a, const int *lda,
                   double *b, const int *ldb, size_t, size_t, size_t, size_t);
extern int numroc_(const int *n, const int *nb, const int *iproc, const int *isrcproc,
                   const int *nprocs);
extern void descinit_(int *desc, const int *m, const int *n, const int *mb, const int *nb,
                      const int *irsrc, const int *icsrc, const int *ictxt, const int *lld,
                      int *info);
extern void pdpotrf_(const char *uplo, const int *n, double *a, const int *ia, const int *ja,
                     const int *desca, int *info, size_t);
extern int Csys2blacs_handle(MPI_Comm comm);
extern void Cfree_blacs_system_handle(int handle);
extern void Cblacs_gridinit(int *context, const char *order, int nprow, int npcol);
extern void Cblacs_gridinfo(int context, int *nprow, int *npcol, int *myrow, int *mycol);
extern void Cblacs_gridexit(int context);

/* Rows per block when streaming embeddings through DSYRK / DTRSM: bounds scratch memory. */
enum { ROW_BLOCK = 256 };

/* ---- entropy estimator --------------------------------------------------------------- */

double hardy_hardness_softmax_entropy(const float *z, int hidden) {
  double zmax = -INFINITY;
  for (int k = 0; k < hidden; k++)
    zmax = fmax(zmax, (double)z[k]);
  /* H = -sum p log p with log p_k = z_k - zmax - log s:  H = log s - sum p_k (z_k - zmax). */
  double s = 0.0, sz = 0.0;
  for (int k = 0; k < hidden; k++) {
    double shifted = (double)z[k] - zmax, w = exp(shifted);
    s += w;
    sz += w * shifted;
  }
  return log(s) - sz / s;
}

int hardy_hardness_entropy_pairs(const float *const z[3], const float *const pair[3], int hidden,
                                 int64_t n, double *pair_mi) {
  if (hidden <= 0)
    return hardy_fail(HARDY_ERR_INPUT, "entropy MI: hidden size %d", hidden);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) {
    double ent[3];
    for (int m = 0; m < 3; m++)
      ent[m] = hardy_hardness_softmax_entropy(z[m] + i * hidden, hidden);
    for (int p = 0; p < HARDY_N_PAIR; p++)
      pair_mi[i * HARDY_N_PAIR + p] = ent[HARDY_PAIR_MOD[p][0]] + ent[HARDY_PAIR_MOD[p][1]] -
                                      hardy_hardness_softmax_entropy(pair[p] + i * hidden, hidden);
  }
  return HARDY_OK;
}

/* ---- shared helpers ------------------------------------------------------------------- */

static int check_embeddings(const float *const z[3], int hidden, int64_t n) {
  for (int m = 0; m < 3; m++)
    for (int64_t i = 0; i < n; i++)
      for (int k = 0; k < hidden; k++)
        if (!isfinite(z[m][i * hidden + k]))
          return hardy_fail(HARDY_ERR_INPUT,
                            "gaussian MI: %c embedding of local row %lld, feature %d is %g",
                            MOD_NAME[m], (long long)i, k, (double)z[m][i * hidden + k]);
  return HARDY_OK;
}

/* Column list of a covariance block: pair p -> modalities (m, n), 2H columns; modality m -> H
 * columns. Index j in 0..6: 0..2 pairs, 3..5 modalities. */
static int block_cols(int j, int hidden, int *cols /* [2H] */) {
  int n_mod = j < HARDY_N_PAIR ? 2 : 1, dim = 0;
  for (int s = 0; s < n_mod; s++) {
    int m = j < HARDY_N_PAIR ? HARDY_PAIR_MOD[j][s] : j - HARDY_N_PAIR;
    for (int k = 0; k < hidden; k++)
      cols[dim++] = m * hidden + k;
  }
  return dim;
}

static void block_name(int j, char *out, size_t cap) {
  if (j < HARDY_N_PAIR)
    snprintf(out, cap, "joint covariance of (%c,%c) embeddings", MOD_NAME[HARDY_PAIR_MOD[j][0]],
             MOD_NAME[HARDY_PAIR_MOD[j][1]]);
  else
    snprintf(out, cap, "covariance of %c embeddings", MOD_NAME[j - HARDY_N_PAIR]);
}

static int not_pd(int j, int column, double ridge) {
  char name[64];
  block_name(j, name, sizeof name);
  return hardy_fail(HARDY_ERR_INPUT,
                    "%s is not positive definite at column %d; raise hardness.ridge (now %g)", name,
                    column, ridge);
}

/* Ridged covariance block: out[a + b*dim] = cov[cols[a], cols[b]] + ridge [a == b]. */
static void extract_block(const double *cov, int width, const int *cols, int dim, double ridge,
                          double *out) {
  for (int b = 0; b < dim; b++)
    for (int a = 0; a < dim; a++)
      out[a + (size_t)b * dim] = cov[cols[a] + (size_t)cols[b] * width] + (a == b ? ridge : 0.0);
}

static double chol_logdet(const double *l, int dim) {
  double s = 0.0;
  for (int k = 0; k < dim; k++)
    s += log(l[k + (size_t)k * dim]);
  return 2.0 * s;
}

void hardy_gauss_mi_free(hardy_gauss_mi_t *g) {
  free(g->mean);
  for (int p = 0; p < HARDY_N_PAIR; p++)
    free(g->chol_pair[p]);
  for (int m = 0; m < 3; m++)
    free(g->chol_mod[m]);
  memset(g, 0, sizeof *g);
}

/* ---- distributed fit ------------------------------------------------------------------- */

/* Mean [3H] and covariance [3H, 3H] (col-major, unbiased) over all ranks, two passes. */
static int fit_moments(MPI_Comm comm, const float *const z[3], int hidden, int64_t n_local,
                       int64_t n_fit, double *mean, double *cov) {
  int width = 3 * hidden;
  memset(mean, 0, (size_t)width * sizeof *mean);
  for (int m = 0; m < 3; m++)
    for (int64_t i = 0; i < n_local; i++)
      for (int k = 0; k < hidden; k++)
        mean[m * hidden + k] += z[m][i * hidden + k];
  HARDY_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, mean, width, MPI_DOUBLE, MPI_SUM, comm));
  for (int c = 0; c < width; c++)
    mean[c] /= (double)n_fit;

  double *centred = hardy_malloc((size_t)ROW_BLOCK * width * sizeof *centred, "centred rows");
  HARDY_CHECK(hardy_agree(centred ? HARDY_OK : HARDY_ERR_RUNTIME, comm));
  memset(cov, 0, (size_t)width * width * sizeof *cov);
  const double one = 1.0;
  for (int64_t r0 = 0; r0 < n_local; r0 += ROW_BLOCK) {
    int rows = (int)HARDY_MIN((int64_t)ROW_BLOCK, n_local - r0);
    /* Row-major [rows, 3H] is column-major [3H, rows]: cov += B B'. */
    for (int i = 0; i < rows; i++)
      for (int m = 0; m < 3; m++)
        for (int k = 0; k < hidden; k++)
          centred[(size_t)i * width + m * hidden + k] =
              (double)z[m][(r0 + i) * hidden + k] - mean[m * hidden + k];
    dsyrk_("L", "N", &width, &rows, &one, centred, &width, &one, cov, &width, 1, 1);
  }
  free(centred);
  HARDY_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, cov, width * width, MPI_DOUBLE, MPI_SUM, comm));
  for (int b = 0; b < width; b++)
    for (int a = b; a < width; a++) {
      double v = cov[a + (size_t)b * width] / (double)(n_fit - 1);
      cov[a + (size_t)b * width] = v;
      cov[b + (size_t)a * width] = v;
    }
  return HARDY_OK;
}

/* A BLACS process grid over all ranks of comm, as square as the rank count allows. */
typedef struct {
  int handle, context, nprow, npcol, myrow, mycol;
} blacs_grid_t;

static void grid_open(MPI_Comm comm, blacs_grid_t *g) {
  int nranks = 1;
  MPI_Comm_size(comm, &nranks);
  int rows = (int)sqrt((double)nranks);
  while (rows > 1 && nranks % rows)
    rows--;
  g->nprow = rows;
  g->npcol = nranks / rows;
  g->handle = Csys2blacs_handle(comm);
  g->context = g->handle;
  Cblacs_gridinit(&g->context, "Row", g->nprow, g->npcol);
  Cblacs_gridinfo(g->context, &g->nprow, &g->npcol, &g->myrow, &g->mycol);
}

static void grid_close(blacs_grid_t *g) {
  Cblacs_gridexit(g->context);
  Cfree_blacs_system_handle(g->handle);
}

/* Block size: every grid row and column owns at least two blocks where the matrix allows,
 * at most 64 (ScaLAPACK's usual panel width; 2H = 512 gives 8 panels). */
static int grid_block(const blacs_grid_t *g, int dim) {
  int procs = HARDY_MAX(g->nprow, g->npcol);
  return HARDY_MAX(1, HARDY_MIN(64, dim / (2 * procs)));
}

/* Global index of local index `loc` in a block-cyclic dimension (source process 0). */
static int global_index(int loc, int nb, int me, int nprocs) {
  return (loc / nb * nprocs + me) * nb + loc % nb;
}

/* Cholesky of the replicated symmetric a [dim, dim] (col-major) on the grid: scatter into the
 * block-cyclic layout (local copy, every rank holds a), pdpotrf, then replicate the lower
 * factor into a (zeroed upper triangle) with one MPI_Allreduce. Returns pdpotrf's info (> 0:
 * not positive definite at that column), agreed over comm, or a negative status. */
static int grid_cholesky(MPI_Comm comm, const blacs_grid_t *g, double *a, int dim, int *info_out,
                         int *block_out) {
  const int zero = 0, one = 1;
  int nb = grid_block(g, dim);
  int mloc = numroc_(&dim, &nb, &g->myrow, &zero, &g->nprow);
  int nloc = numroc_(&dim, &nb, &g->mycol, &zero, &g->npcol);
  int lld = HARDY_MAX(1, mloc), desc[9], info = 0;
  double *local = hardy_malloc((size_t)lld * (size_t)HARDY_MAX(1, nloc) * sizeof *local,
                               "block-cyclic covariance");
  HARDY_CHECK(hardy_agree(local ? HARDY_OK : HARDY_ERR_RUNTIME, comm));
  descinit_(desc, &dim, &dim, &nb, &nb, &zero, &zero, &g->context, &lld, &info);
  for (int lj = 0; lj < nloc; lj++) {
    int gj = global_index(lj, nb, g->mycol, g->npcol);
    for (int li = 0; li < mloc; li++)
      local[li + (size_t)lj * lld] = a[global_index(li, nb, g->myrow, g->nprow) + (size_t)gj * dim];
  }
  if (info == 0)
    pdpotrf_("L", &dim, local, &one, &one, desc, &info, 1);
  memset(a, 0, (size_t)dim * dim * sizeof *a);
  for (int lj = 0; lj < nloc; lj++) {
    int gj = global_index(lj, nb, g->mycol, g->npcol);
    for (int li = 0; li < mloc; li++) {
      int gi = global_index(li, nb, g->myrow, g->nprow);
      if (gi >= gj)
        a[gi + (size_t)gj * dim] = local[li + (size_t)lj * lld];
    }
  }
  free(local);
  /* {not-PD column, rejected argument}: info < 0 would be a bug in the call, agreed as well. */
  int mine[2] = {HARDY_MAX(info, 0), HARDY_MAX(-info, 0)}, worst[2];
  HARDY_MPI_CHECK(MPI_Allreduce(mine, worst, 2, MPI_INT, MPI_MAX, comm));
  if (worst[1])
    return hardy_fail(HARDY_ERR_RUNTIME,
                      "ScaLAPACK descinit/pdpotrf rejected argument %d "
                      "(matrix order %d, block %d)",
                      worst[1], dim, nb);
  HARDY_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, a, dim * dim, MPI_DOUBLE, MPI_SUM, comm));
  *info_out = worst[0];
  *block_out = nb;
  return HARDY_OK;
}

static int alloc_model(hardy_gauss_mi_t *g, int hidden) {
  size_t h = (size_t)hidden;
  g->hidden = hidden;
  g->mean = hardy_malloc(3 * h * sizeof(double), "gaussian mean");
  int ok = g->mean != NULL;
  for (int p = 0; p < HARDY_N_PAIR; p++)
    ok &= (g->chol_pair[p] = hardy_malloc(4 * h * h * sizeof(double), "joint factor")) != NULL;
  for (int m = 0; m < 3; m++)
    ok &= (g->chol_mod[m] = hardy_malloc(h * h * sizeof(double), "marginal factor")) != NULL;
  return ok ? HARDY_OK : HARDY_ERR_RUNTIME;
}

/* Factor the six blocks in order (a,t), (a,v), (t,v), a, t, v; stop at the first that is not
 * positive definite (the pair joints come first: a marginal is a principal block of a joint). */
static int factor_blocks(MPI_Comm comm, const double *cov, double ridge, hardy_gauss_mi_t *g) {
  int hidden = g->hidden, *cols = hardy_malloc((size_t)2 * hidden * sizeof *cols, "columns");
  HARDY_CHECK(hardy_agree(cols ? HARDY_OK : HARDY_ERR_RUNTIME, comm));
  blacs_grid_t grid;
  grid_open(comm, &grid);
  g->grid_rows = grid.nprow;
  g->grid_cols = grid.npcol;
  int status = HARDY_OK;
  for (int j = 0; j < HARDY_N_PAIR + 3 && status == HARDY_OK; j++) {
    double *a = j < HARDY_N_PAIR ? g->chol_pair[j] : g->chol_mod[j - HARDY_N_PAIR];
    int dim = block_cols(j, hidden, cols), info = 0, nb = 0;
    extract_block(cov, 3 * hidden, cols, dim, ridge, a);
    status = grid_cholesky(comm, &grid, a, dim, &info, &nb);
    if (status == HARDY_OK && info > 0)
      status = not_pd(j, info, ridge);
    if (status == HARDY_OK && j == 0)
      g->block = nb;
    if (status == HARDY_OK && j < HARDY_N_PAIR)
      g->logdet_pair[j] = chol_logdet(a, dim);
    if (status == HARDY_OK && j >= HARDY_N_PAIR)
      g->logdet_mod[j - HARDY_N_PAIR] = chol_logdet(a, dim);
  }
  grid_close(&grid);
  free(cols);
  return status;
}

int hardy_gauss_mi_fit(MPI_Comm comm, const float *const z[3], int hidden, int64_t n_local,
                       double ridge, hardy_gauss_mi_t *g) {
  memset(g, 0, sizeof *g);
  int status = hidden > 0 && ridge >= 0.0
                   ? check_embeddings(z, hidden, n_local)
                   : hardy_fail(HARDY_ERR_INPUT,
                                "gaussian MI: hidden %d, ridge %g (need > 0, >= 0)", hidden, ridge);
  HARDY_CHECK(hardy_agree(status, comm));
  int64_t n_fit = 0;
  HARDY_MPI_CHECK(MPI_Allreduce(&n_local, &n_fit, 1, MPI_INT64_T, MPI_SUM, comm));
  if (n_fit < 2)
    return hardy_fail(HARDY_ERR_INPUT,
                      "gaussian MI needs at least 2 training utterances over "
                      "all ranks to fit a covariance, got %lld",
                      (long long)n_fit);
  size_t width = 3 * (size_t)hidden;
  double *cov = hardy_malloc(width * width * sizeof *cov, "embedding covariance");
  status = alloc_model(g, hidden);
  status = hardy_agree(cov ? status : HARDY_ERR_RUNTIME, comm);
  g->n_fit = n_fit;
  if (status == HARDY_OK)
    status = fit_moments(comm, z, hidden, n_local, n_fit, g->mean, cov);
  if (status == HARDY_OK)
    status = factor_blocks(comm, cov, ridge, g);
  free(cov);
  if (status < 0)
    hardy_gauss_mi_free(g);
  return status;
}

/* ---- local evaluation ------------------------------------------------------------------ */

/* Squared norms of L^{-1} x for the rows of x (row-major [rows, dim], overwritten). */
static void solve_norms(const double *l, int dim, double *x, int rows, double *q /* [rows] */) {
  const double one = 1.0;
  /* Row-major [rows, dim] is column-major [dim, rows]: solve L Y = X in place. */
  dtrsm_("L", "L", "N", "N", &dim, &rows, &one, l, &dim, x, &dim, 1, 1, 1, 1);
  for (int i = 0; i < rows; i++) {
    double s = 0.0;
    for (int k = 0; k < dim; k++)
      s += x[(size_t)i * dim + k] * x[(size_t)i * dim + k];
    q[i] = s;
  }
}

/* Centred rows r0..r0+rows of the modalities in block j into x [rows, dim]. */
static void gather_centred(const hardy_gauss_mi_t *g, const float *const z[3], int j, int64_t r0,
                           int rows, double *x) {
  int hidden = g->hidden, n_mod = j < HARDY_N_PAIR ? 2 : 1, dim = n_mod * hidden;
  for (int i = 0; i < rows; i++)
    for (int s = 0; s < n_mod; s++) {
      int m = j < HARDY_N_PAIR ? HARDY_PAIR_MOD[j][s] : j - HARDY_N_PAIR;
      for (int k = 0; k < hidden; k++)
        x[(size_t)i * dim + s * hidden + k] =
            (double)z[m][(r0 + i) * hidden + k] - g->mean[m * hidden + k];
    }
}

int hardy_gauss_mi_eval(const hardy_gauss_mi_t *g, const float *const z[3], int64_t n,
                        double *pair_mi) {
  int hidden = g->hidden;
  double *x = hardy_malloc((size_t)ROW_BLOCK * 2 * hidden * sizeof *x, "centred embeddings");
  double *q = hardy_malloc((size_t)ROW_BLOCK * (HARDY_N_PAIR + 3) * sizeof *q, "mahalanobis");
  if (!x || !q) {
    free(x);
    free(q);
    return HARDY_ERR_RUNTIME;
  }
  for (int64_t r0 = 0; r0 < n; r0 += ROW_BLOCK) {
    int rows = (int)HARDY_MIN((int64_t)ROW_BLOCK, n - r0);
    for (int j = 0; j < HARDY_N_PAIR + 3; j++) {
      gather_centred(g, z, j, r0, rows, x);
      if (j < HARDY_N_PAIR)
        solve_norms(g->chol_pair[j], 2 * hidden, x, rows, q + (size_t)j * ROW_BLOCK);
      else
        solve_norms(g->chol_mod[j - HARDY_N_PAIR], hidden, x, rows, q + (size_t)j * ROW_BLOCK);
    }
    /* log N(x) = -(d log 2pi + log det S + x' S^-1 x) / 2; the 2pi terms cancel (2H = H + H). */
    for (int i = 0; i < rows; i++)
      for (int p = 0; p < HARDY_N_PAIR; p++) {
        int m = HARDY_PAIR_MOD[p][0], k = HARDY_PAIR_MOD[p][1];
        double qj = q[(size_t)p * ROW_BLOCK + i],
               qm = q[(size_t)(HARDY_N_PAIR + m) * ROW_BLOCK + i],
               qk = q[(size_t)(HARDY_N_PAIR + k) * ROW_BLOCK + i];
        pair_mi[(r0 + i) * HARDY_N_PAIR + p] =
            -0.5 * (g->logdet_pair[p] - g->logdet_mod[m] - g->logdet_mod[k] + qj - qm - qk);
      }
  }
  free(x);
  free(q);
  return HARDY_OK;
}

/* ---- serial reference ------------------------------------------------------------------ */

/* Plain right-looking Cholesky of a [dim, dim] col-major, lower; returns 0 or the 1-based
 * column of the first non-positive pivot. */
static int cholesky_ref(double *a, int dim) {
  for (int j = 0; j < dim; j++) {
    double d = a[j + (size_t)j * dim];
    for (int k = 0; k < j; k++)
      d -= a[j + (size_t)k * dim] * a[j + (size_t)k * dim];
    if (!(d > 0.0))
      return j + 1;
    d = sqrt(d);
    a[j + (size_t)j * dim] = d;
    for (int i = j + 1; i < dim; i++) {
      double s = a[i + (size_t)j * dim];
      for (int k = 0; k < j; k++)
        s -= a[i + (size_t)k * dim] * a[j + (size_t)k * dim];
      a[i + (size_t)j * dim] = s / d;
    }
    for (int i = 0; i < j; i++)
      a[i + (size_t)j * dim] = 0.0;
  }
  return 0;
}

/* x' (L L')^{-1} x by forward substitution. */
static double mahalanobis_ref(const double *l, int dim, const double *x, double *y) {
  double s = 0.0;
  for (int i = 0; i < dim; i++) {
    double v = x[i];
    for (int k = 0; k < i; k++)
      v -= l[i + (size_t)k * dim] * y[k];
    y[i] = v / l[i + (size_t)i * dim];
    s += y[i] * y[i];
  }
  return s;
}

int hardy_gauss_mi_ref(const float *const z[3], int hidden, int64_t n, double ridge,
                       double *pair_mi) {
  if (n < 2)
    return hardy_fail(HARDY_ERR_INPUT, "gaussian MI reference: %lld rows", (long long)n);
  int width = 3 * hidden;
  hardy_gauss_mi_t g = {0};
  double *cov = calloc((size_t)width * width, sizeof *cov),
         *row = malloc((size_t)width * sizeof *row), *y = malloc((size_t)width * sizeof *y);
  int *idx = malloc((size_t)2 * hidden * sizeof *idx);
  int status = alloc_model(&g, hidden);
  if (!cov || !row || !y || !idx)
    status = hardy_fail(HARDY_ERR_RUNTIME, "gaussian MI reference: out of memory");
  for (int c = 0; status == HARDY_OK && c < width; c++) {
    double s = 0.0;
    for (int64_t i = 0; i < n; i++)
      s += z[c / hidden][i * hidden + c % hidden];
    g.mean[c] = s / (double)n;
  }
  for (int64_t i = 0; status == HARDY_OK && i < n; i++) {
    for (int c = 0; c < width; c++)
      row[c] = z[c / hidden][i * hidden + c % hidden] - g.mean[c];
    for (int b = 0; b < width; b++)
      for (int a = 0; a < width; a++)
        cov[a + (size_t)b * width] += row[a] * row[b] / (double)(n - 1);
  }
  for (int j = 0; status == HARDY_OK && j < HARDY_N_PAIR + 3; j++) {
    double *a = j < HARDY_N_PAIR ? g.chol_pair[j] : g.chol_mod[j - HARDY_N_PAIR];
    int dim = block_cols(j, hidden, idx);
    extract_block(cov, width, idx, dim, ridge, a);
    int info = cholesky_ref(a, dim);
    if (info)
      status = not_pd(j, info, ridge);
    else if (j < HARDY_N_PAIR)
      g.logdet_pair[j] = chol_logdet(a, dim);
    else
      g.logdet_mod[j - HARDY_N_PAIR] = chol_logdet(a, dim);
  }
  for (int64_t i = 0; status == HARDY_OK && i < n; i++) {
    double qj[HARDY_N_PAIR], qm[3];
    for (int j = 0; j < HARDY_N_PAIR + 3; j++) {
      int dim = block_cols(j, hidden, idx);
      for (int c = 0; c < dim; c++)
        row[c] = z[idx[c] / hidden][i * hidden + idx[c] % hidden] - g.mean[idx[c]];
      if (j < HARDY_N_PAIR)
        qj[j] = mahalanobis_ref(g.chol_pair[j], dim, row, y);
      else
        qm[j - HARDY_N_PAIR] = mahalanobis_ref(g.chol_mod[j - HARDY_N_PAIR], dim, row, y);
    }
    for (int p = 0; p < HARDY_N_PAIR; p++) {
      int m = HARDY_PAIR_MOD[p][0], k = HARDY_PAIR_MOD[p][1];
      pair_mi[i * HARDY_N_PAIR + p] =
          -0.5 * (g.logdet_pair[p] - g.logdet_mod[m] - g.logdet_mod[k] + qj[p] - qm[m] - qm[k]);
    }
  }
  free(cov);
  free(row);
  free(y);
  free(idx);
  hardy_gauss_mi_free(&g);
  return status;
}
