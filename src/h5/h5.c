/* HDF5 plumbing shared by the modules that read and write HDF5 files: quiet error handling
 * with readable messages, the MPI-IO open path with plain-file prechecks, attribute readers
 * and writers, and collective row-range I/O. See h5.h. */
#include "h5/h5.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hardy/common.h"
#include "hardy/log.h"

/* The innermost message of the last failed HDF5 call, captured by the automatic error handler
 * at the moment the call fails (any later API call clears HDF5's own stack). */
static char g_last_error[512];

typedef struct {
  char *buf;
  size_t cap;
  int found;
} walk_state_t;

static herr_t walk_innermost(unsigned n, const H5E_error2_t *err, void *data) {
  walk_state_t *st = data;
  if (n == 0 && err && err->desc && err->desc[0]) {
    snprintf(st->buf, st->cap, "%s", err->desc);
    st->found = 1;
  }
  return 0;
}

static herr_t capture_error(hid_t stack, void *data) {
  (void)data;
  walk_state_t st = {g_last_error, sizeof g_last_error, 0};
  H5Ewalk2(stack, H5E_WALK_UPWARD, walk_innermost, &st);
  if (!st.found) snprintf(g_last_error, sizeof g_last_error, "unknown HDF5 error");
  return 0;
}

void hardy_h5_quiet(void) { H5Eset_auto2(H5E_DEFAULT, capture_error, NULL); }

const char *hardy_h5_error_text(char *buf, size_t cap) {
  snprintf(buf, cap, "%s", g_last_error[0] ? g_last_error : "unknown HDF5 error");
  return buf;
}

int hardy_h5_fail(int code, const char *path, const char *what) {
  char text[512];
  hardy_h5_error_text(text, sizeof text);
  return hardy_fail(code, "%s: %s (HDF5: %s)", path, what, text);
}

/* ---- structure walk in a separate process ------------------------------------------------ */

static bool g_structure_check = false;
static int g_structure_seconds = 60;
static int (*g_structure_reads)(hid_t file) = NULL;

void hardy_h5_set_structure_check(bool on, int seconds, int (*reads)(hid_t file)) {
  g_structure_check = on, g_structure_seconds = seconds, g_structure_reads = reads;
}

/* Read one attribute in full (variable-length strings through the global heap, which is where
 * HDF5 1.10 crashes on overwritten metadata). */
static herr_t walk_attr(hid_t loc, const char *name, const H5A_info_t *ainfo, void *op) {
  (void)ainfo;
  int *bad = op;
  hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
  if (a < 0) return (*bad = 1), 0;
  hid_t ft = H5Aget_type(a), sp = H5Aget_space(a);
  hssize_t n = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
  if (ft < 0 || n < 0 || n > (1 << 20)) {
    *bad = 1;
  } else if (H5Tget_class(ft) == H5T_STRING && H5Tis_variable_str(ft) > 0) {
    char **v = calloc((size_t)n + 1, sizeof *v);
    hid_t mt = H5Tcopy(H5T_C_S1);
    H5Tset_size(mt, H5T_VARIABLE);
    if (!v || H5Aread(a, mt, v) < 0) *bad = 1;
    else H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, v);
    H5Tclose(mt);
    free(v);
  } else {
    hid_t mt = H5Tget_native_type(ft, H5T_DIR_ASCEND);
    size_t bytes = mt >= 0 ? H5Tget_size(mt) * (size_t)n : 0;
    void *buf = bytes && bytes <= (64u << 20) ? malloc(bytes) : NULL;
    if (!buf || H5Aread(a, mt, buf) < 0) *bad = 1;
    free(buf);
    if (mt >= 0) H5Tclose(mt);
  }
  if (sp >= 0) H5Sclose(sp);
  if (ft >= 0) H5Tclose(ft);
  H5Aclose(a);
  return 0;
}

/* Every object: its header, its attributes, and for a dataset its type, shape and layout. */
static herr_t walk_object(hid_t root, const char *name, const H5O_info_t *info, void *op) {
  int *bad = op;
  hid_t o = H5Oopen(root, name, H5P_DEFAULT);
  if (o < 0) return (*bad = 1), 0;
  if (H5Aiterate2(o, H5_INDEX_NAME, H5_ITER_NATIVE, NULL, walk_attr, bad) < 0) *bad = 1;
  if (info->type == H5O_TYPE_DATASET) {
    hid_t t = H5Dget_type(o), sp = H5Dget_space(o), dcpl = H5Dget_create_plist(o);
    if (t < 0 || sp < 0 || dcpl < 0 || H5Sget_simple_extent_npoints(sp) < 0) *bad = 1;
    if (dcpl >= 0) H5Pclose(dcpl);
    if (sp >= 0) H5Sclose(sp);
    if (t >= 0) H5Tclose(t);
  }
  H5Oclose(o);
  return 0;
}

/* In the child: the metadata reads of the real open path, then a walk over every object and
 * attribute, through the plain POSIX driver: a forked MPI process must not call MPI (its
 * progress engine would take messages meant for the parent). Exit 0 when HDF5 got through,
 * errors included: the collective path reports those properly; only a crash or a loop counts. */
static void structure_walk_child(const char *path, int seconds) {
  /* die quietly and on time: the parent reports the signal (MPI's handler would print a
   * backtrace, an inherited SIGALRM handler would keep the alarm from ending the child) */
  int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGALRM};
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) signal(sigs[i], SIG_DFL);
  alarm((unsigned)seconds);
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  int bad = 0;
  if (f >= 0) {
    if (g_structure_reads && g_structure_reads(f) != HARDY_OK) bad = 1;
    if (H5Ovisit2(f, H5_INDEX_NAME, H5_ITER_NATIVE, walk_object, &bad, H5O_INFO_BASIC) < 0) bad = 1;
    H5Fclose(f);
  }
  _exit(bad ? 1 : 0);
}

/* HDF5 1.10 can crash (or loop) on overwritten metadata before any check of ours runs, and a
 * crash in a collective open takes the job down without a word. Walking the file in a forked
 * child first turns that into an error naming the file. Local (rank 0). */
static int structure_check(const char *path) {
  const char *env = getenv("HARDY_STRUCTURE_CHECK_SECONDS"); /* tests shorten it */
  int seconds = env && atoi(env) > 0 ? atoi(env) : g_structure_seconds;
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) {
    hardy_log_warn_any("%s: cannot start the structure check (%s); opening without it", path,
                       strerror(errno));
    return HARDY_OK;
  }
  if (pid == 0) structure_walk_child(path, seconds);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    if (sig == SIGALRM)
      return hardy_fail(HARDY_ERR_INPUT, "%s: corrupt HDF5 structure: reading the file's metadata "
                        "did not finish within %d s (HDF5 loops on it); the file cannot be used: "
                        "regenerate or re-convert it", path, seconds);
    return hardy_fail(HARDY_ERR_INPUT, "%s: corrupt HDF5 structure: reading the file's metadata "
                      "crashed HDF5 (signal %d, %s) in a separate check process; the file cannot "
                      "be used: regenerate or re-convert it", path, sig, strsignal(sig));
  }
  return HARDY_OK;
}

int hardy_h5_precheck(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0)
    return hardy_fail(HARDY_ERR_INPUT, "%s: cannot open: %s", path, strerror(errno));
  if (S_ISDIR(st.st_mode))
    return hardy_fail(HARDY_ERR_INPUT, "%s: is a directory, expected a hardy-mer HDF5 file", path);
  FILE *f = fopen(path, "rb");
  if (!f) return hardy_fail(HARDY_ERR_INPUT, "%s: cannot read: %s", path, strerror(errno));
  fclose(f);
  if (st.st_size == 0)
    return hardy_fail(HARDY_ERR_INPUT, "%s: file is empty (0 bytes), not an HDF5 dataset file",
                      path);
  htri_t is_h5 = H5Fis_hdf5(path);
  if (is_h5 <= 0)
    return hardy_fail(HARDY_ERR_INPUT,
                      "%s: not an HDF5 file (no HDF5 signature in its %lld bytes); expected a "
                      "hardy-mer dataset (docs/DATA_FORMAT.md)",
                      path, (long long)st.st_size);
  return g_structure_check ? structure_check(path) : HARDY_OK;
}

hid_t hardy_h5_fapl_mpio(MPI_Comm comm) {
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  if (fapl >= 0 && H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL) < 0) {
    H5Pclose(fapl);
    return -1;
  }
  return fapl;
}

hid_t hardy_h5_dxpl_collective(void) {
  hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
  if (dxpl >= 0 && H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE) < 0) {
    H5Pclose(dxpl);
    return -1;
  }
  return dxpl;
}

int hardy_h5_open_read_as(const char *path, MPI_Comm comm, hid_t *file,
                          int (*precheck)(const char *path), const char *corrupt_hint) {
  hardy_h5_quiet();
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  *file = -1;
  int rc = rank == 0 ? precheck(path) : HARDY_OK;
  rc = hardy_agree(rc, comm);
  if (rc < 0) return rc;
  hid_t fapl = hardy_h5_fapl_mpio(comm);
  if (fapl < 0) return hardy_agree(hardy_h5_fail(HARDY_ERR_RUNTIME, path, "MPI-IO setup failed"), comm);
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
  H5Pclose(fapl);
  if (f < 0) {
    struct stat st;
    long long size = stat(path, &st) == 0 ? (long long)st.st_size : -1;
    char what[256];
    snprintf(what, sizeof what, "cannot open as HDF5 (file is %lld bytes; %s)", size, corrupt_hint);
    rc = hardy_h5_fail(HARDY_ERR_INPUT, path, what);
  }
  rc = hardy_agree(rc, comm);
  if (rc < 0) {
    /* H5Fopen is collective: ranks where it succeeded must close again together. */
    if (f >= 0) H5Fclose(f);
    return rc;
  }
  *file = f;
  return HARDY_OK;
}

int hardy_h5_open_read(const char *path, MPI_Comm comm, hid_t *file) {
  return hardy_h5_open_read_as(path, comm, file, hardy_h5_precheck, "truncated or corrupt?");
}

const char *hardy_h5_class_name(H5T_class_t cls) {
  switch (cls) {
  case H5T_INTEGER: return "integer";
  case H5T_FLOAT: return "float";
  case H5T_STRING: return "string";
  case H5T_COMPOUND: return "compound";
  case H5T_ENUM: return "enum";
  case H5T_ARRAY: return "array";
  case H5T_VLEN: return "vlen";
  default: return "other";
  }
}

/* Select the rows of `ranges` in the file space, and a packed memory space for them. */
static int select_rows(hid_t dset, const hardy_row_range_t *ranges, int64_t n_ranges,
                       hid_t *fspace_out, hid_t *mspace_out) {
  hid_t fspace = H5Dget_space(dset);
  if (fspace < 0) return -1;
  hsize_t dims[2] = {0, 1};
  int ndims = H5Sget_simple_extent_dims(fspace, dims, NULL);
  if (ndims < 1 || ndims > 2) {
    H5Sclose(fspace);
    return -1;
  }
  hsize_t width = ndims == 2 ? dims[1] : 1, total = 0;
  herr_t err = n_ranges == 0 ? H5Sselect_none(fspace) : 0;
  for (int64_t i = 0; i < n_ranges && err >= 0; i++) {
    hsize_t start[2] = {(hsize_t)ranges[i].first, 0}, count[2] = {(hsize_t)ranges[i].count, width};
    err = H5Sselect_hyperslab(fspace, i == 0 ? H5S_SELECT_SET : H5S_SELECT_OR, start, NULL, count,
                              NULL);
    total += (hsize_t)ranges[i].count;
  }
  hsize_t mdims[2] = {total ? total : 1, width};
  hid_t mspace = err >= 0 ? H5Screate_simple(ndims, mdims, NULL) : -1;
  if (mspace >= 0 && total == 0) err = H5Sselect_none(mspace);
  if (err < 0 || mspace < 0) {
    if (mspace >= 0) H5Sclose(mspace);
    H5Sclose(fspace);
    return -1;
  }
  *fspace_out = fspace;
  *mspace_out = mspace;
  return 0;
}

static int rows_io(bool write, hid_t dset, hid_t mem_type, hid_t dxpl,
                   const hardy_row_range_t *ranges, int64_t n_ranges, void *buf, const char *path,
                   const char *h5path) {
  hid_t fspace = -1, mspace = -1;
  char what[256];
  if (select_rows(dset, ranges, n_ranges, &fspace, &mspace) < 0) {
    snprintf(what, sizeof what, "cannot select rows of %s", h5path);
    return hardy_h5_fail(HARDY_ERR_RUNTIME, path, what);
  }
  static char dummy[16]; /* a valid pointer for ranks with an empty selection */
  void *target = n_ranges ? buf : dummy;
  herr_t err = write ? H5Dwrite(dset, mem_type, mspace, fspace, dxpl, target)
                     : H5Dread(dset, mem_type, mspace, fspace, dxpl, target);
  H5Sclose(mspace);
  H5Sclose(fspace);
  if (err < 0) {
    snprintf(what, sizeof what, "%s %s failed", write ? "writing" : "reading", h5path);
    return hardy_h5_fail(write ? HARDY_ERR_RUNTIME : HARDY_ERR_INPUT, path, what);
  }
  return HARDY_OK;
}

int hardy_h5_read_rows(hid_t dset, hid_t mem_type, hid_t dxpl, const hardy_row_range_t *ranges,
                       int64_t n_ranges, void *buf, const char *path, const char *h5path) {
  return rows_io(false, dset, mem_type, dxpl, ranges, n_ranges, buf, path, h5path);
}

int hardy_h5_write_rows(hid_t dset, hid_t mem_type, hid_t dxpl, const hardy_row_range_t *ranges,
                        int64_t n_ranges, const void *buf, const char *path, const char *h5path) {
  return rows_io(true, dset, mem_type, dxpl, ranges, n_ranges, (void *)buf, path, h5path);
}

/* ---- attributes ------------------------------------------------------------------------- */

/* Open attribute `name`; 0 when absent and optional, 1 when open, or an error. */
static int attr_open(hid_t obj, const char *name, bool required, const char *path, hid_t *attr,
                     hid_t *ftype, hssize_t *n_elem) {
  htri_t exists = H5Aexists(obj, name);
  if (exists < 0) return hardy_h5_fail(HARDY_ERR_INPUT, path, "cannot read the root attributes");
  if (!exists) {
    if (!required) return 0;
    return hardy_fail(HARDY_ERR_INPUT,
                      "%s: root attribute '%s' is missing; not a hardy-mer dataset file "
                      "(docs/DATA_FORMAT.md)",
                      path, name);
  }
  *attr = H5Aopen(obj, name, H5P_DEFAULT);
  if (*attr < 0) return hardy_h5_fail(HARDY_ERR_INPUT, path, "cannot open a root attribute");
  *ftype = H5Aget_type(*attr);
  hid_t space = H5Aget_space(*attr);
  *n_elem = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
  if (space >= 0) H5Sclose(space);
  if (*ftype < 0 || *n_elem < 0) {
    if (*ftype >= 0) H5Tclose(*ftype);
    H5Aclose(*attr);
    return hardy_h5_fail(HARDY_ERR_INPUT, path, "cannot read a root attribute's type");
  }
  return 1;
}

int hardy_h5_attr_strings(hid_t obj, const char *name, char ***out, int64_t *n_out, bool required,
                          const char *path) {
  hid_t attr = -1, ftype = -1;
  hssize_t n = 0;
  *out = NULL;
  *n_out = 0;
  int rc = attr_open(obj, name, required, path, &attr, &ftype, &n);
  if (rc <= 0) return rc;
  if (H5Tget_class(ftype) != H5T_STRING) {
    rc = hardy_fail(HARDY_ERR_INPUT, "%s: root attribute '%s' is %s, expected a string", path, name,
                    hardy_h5_class_name(H5Tget_class(ftype)));
    goto done;
  }
  char **strs = hardy_calloc((size_t)n + 1, sizeof *strs, "attribute strings");
  if (!strs) {
    rc = HARDY_ERR_RUNTIME;
    goto done;
  }
  hid_t mtype = H5Tcopy(H5T_C_S1);
  H5Tset_cset(mtype, H5Tget_cset(ftype));
  herr_t err;
  bool oom = false; /* out of memory is a runtime failure, not a bad file */
  if (H5Tis_variable_str(ftype) > 0) {
    H5Tset_size(mtype, H5T_VARIABLE);
    char **vl = hardy_calloc((size_t)n + 1, sizeof *vl, "attribute strings");
    oom = !vl;
    err = vl ? H5Aread(attr, mtype, vl) : -1;
    for (hssize_t i = 0; err >= 0 && i < n; i++) strs[i] = strdup(vl[i] ? vl[i] : "");
    if (err >= 0) {
      hid_t space = H5Aget_space(attr);
      H5Dvlen_reclaim(mtype, space, H5P_DEFAULT, vl);
      H5Sclose(space);
    }
    free(vl);
  } else {
    size_t len = H5Tget_size(ftype);
    H5Tset_size(mtype, len + 1); /* room for the terminator HDF5 adds */
    char *flat = hardy_calloc((size_t)n, len + 1, "attribute strings");
    oom = !flat;
    err = flat ? H5Aread(attr, mtype, flat) : -1;
    for (hssize_t i = 0; err >= 0 && i < n; i++) strs[i] = strndup(flat + (size_t)i * (len + 1), len);
    free(flat);
  }
  H5Tclose(mtype);
  if (err < 0) {
    hardy_h5_free_strings(strs, n);
    rc = oom ? HARDY_ERR_RUNTIME : hardy_h5_fail(HARDY_ERR_INPUT, path, "cannot read a string attribute");
    goto done;
  }
  *out = strs;
  *n_out = n;
  rc = 1;
done:
  H5Tclose(ftype);
  H5Aclose(attr);
  return rc;
}

void hardy_h5_free_strings(char **s, int64_t n) {
  if (!s) return;
  for (int64_t i = 0; i < n; i++) free(s[i]);
  free(s);
}

int hardy_h5_attr_string(hid_t obj, const char *name, char *out, size_t cap, bool required,
                         const char *path) {
  char **strs = NULL;
  int64_t n = 0;
  out[0] = '\0';
  int rc = hardy_h5_attr_strings(obj, name, &strs, &n, required, path);
  if (rc <= 0) return rc;
  if (n != 1) {
    hardy_h5_free_strings(strs, n);
    return hardy_fail(HARDY_ERR_INPUT, "%s: root attribute '%s' has %lld values, expected one string",
                      path, name, (long long)n);
  }
  snprintf(out, cap, "%s", strs[0] ? strs[0] : "");
  hardy_h5_free_strings(strs, n);
  return 1;
}

int hardy_h5_attr_long(hid_t obj, const char *name, long *out, bool required, const char *path) {
  hid_t attr = -1, ftype = -1;
  hssize_t n = 0;
  int rc = attr_open(obj, name, required, path, &attr, &ftype, &n);
  if (rc <= 0) return rc;
  if (H5Tget_class(ftype) != H5T_INTEGER || n != 1) {
    rc = hardy_fail(HARDY_ERR_INPUT, "%s: root attribute '%s' is %s with %lld values, expected one "
                    "integer", path, name, hardy_h5_class_name(H5Tget_class(ftype)), (long long)n);
  } else if (H5Aread(attr, H5T_NATIVE_LONG, out) < 0) {
    rc = hardy_h5_fail(HARDY_ERR_INPUT, path, "cannot read an integer attribute");
  }
  H5Tclose(ftype);
  H5Aclose(attr);
  return rc;
}

static hid_t vl_utf8_type(void) {
  hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, H5T_VARIABLE);
  H5Tset_cset(t, H5T_CSET_UTF8);
  return t;
}

static int write_attr(hid_t obj, const char *name, hid_t ftype, hid_t mtype, hid_t space,
                      const void *buf) {
  if (H5Aexists(obj, name) > 0) H5Adelete(obj, name);
  hid_t attr = H5Acreate2(obj, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT);
  herr_t err = attr >= 0 ? H5Awrite(attr, mtype, buf) : -1;
  if (attr >= 0) H5Aclose(attr);
  return err < 0 ? hardy_h5_fail(HARDY_ERR_RUNTIME, name, "cannot write attribute") : HARDY_OK;
}

int hardy_h5_write_attr_string(hid_t obj, const char *name, const char *value) {
  hid_t type = vl_utf8_type(), space = H5Screate(H5S_SCALAR);
  int rc = write_attr(obj, name, type, type, space, &value);
  H5Sclose(space);
  H5Tclose(type);
  return rc;
}

int hardy_h5_write_attr_long(hid_t obj, const char *name, long value) {
  hid_t space = H5Screate(H5S_SCALAR);
  int rc = write_attr(obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, space, &(int64_t){value});
  H5Sclose(space);
  return rc;
}

int hardy_h5_write_attr_strings(hid_t obj, const char *name, char *const *values, int64_t n) {
  hsize_t dims[1] = {(hsize_t)n};
  hid_t type = vl_utf8_type(), space = H5Screate_simple(1, dims, NULL);
  int rc = write_attr(obj, name, type, type, space, values);
  H5Sclose(space);
  H5Tclose(type);
  return rc;
}
