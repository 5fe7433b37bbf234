/* Checkpoint plumbing shared by save and load: the XXH64 checksums (blocks of flat arrays,
 * rows of tables, the metadata record), the block-aligned slices each rank writes and reads,
 * small HDF5 helpers for attributes and text datasets, and the redistribution of table rows
 * into global id order. See checkpoint_internal.h. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint_internal.h"
#include "hardy/common.h"
#include "hardy/dist.h"

const char *const ckpt_array_path[CKPT_N_ARRAYS] = {"/model/params", "/optimizer/adam_m",
                                                    "/optimizer/adam_v", "/model/best_params"};

/* ---- XXH64 ---------------------------------------------------------------------------------- */

static const uint64_t P1 = 0x9E3779B185EBCA87ull, P2 = 0xC2B2AE3D27D4EB4Full,
                      P3 = 0x165667B19E3779F9ull, P4 = 0x85EBCA77C2B2AE63ull,
                      P5 = 0x27D4EB2F165667C5ull;

static inline uint64_t rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
static inline uint64_t rd64(const unsigned char *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}
static inline uint32_t rd32(const unsigned char *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}
static inline uint64_t xround(uint64_t acc, uint64_t in) { return rotl64(acc + in * P2, 31) * P1; }
static inline uint64_t xmerge(uint64_t acc, uint64_t v) { return (acc ^ xround(0, v)) * P1 + P4; }

uint64_t ckpt_xxh64(const void *bytes, size_t len, uint64_t seed) {
  const unsigned char *p = bytes, *end = p + len;
  uint64_t h;
  if (len >= 32) {
    uint64_t v1 = seed + P1 + P2, v2 = seed + P2, v3 = seed, v4 = seed - P1;
    for (; p + 32 <= end; p += 32) {
      v1 = xround(v1, rd64(p));
      v2 = xround(v2, rd64(p + 8));
      v3 = xround(v3, rd64(p + 16));
      v4 = xround(v4, rd64(p + 24));
    }
    h = rotl64(v1, 1) + rotl64(v2, 7) + rotl64(v3, 12) + rotl64(v4, 18);
    h = xmerge(xmerge(xmerge(xmerge(h, v1), v2), v3), v4);
  } else {
    h = seed + P5;
  }
  h += (uint64_t)len;
  for (; p + 8 <= end; p += 8) h = rotl64(h ^ xround(0, rd64(p)), 27) * P1 + P4;
  if (p + 4 <= end) {
    h = rotl64(h ^ (uint64_t)rd32(p) * P1, 23) * P2 + P3;
    p += 4;
  }
  for (; p < end; p++) h = rotl64(h ^ (uint64_t)*p * P5, 11) * P1;
  h ^= h >> 33;
  h *= P2;
  h ^= h >> 29;
  h *= P3;
  return h ^ (h >> 32);
}

uint64_t ckpt_blocks_sum(const float *data, size_t n, size_t first_block) {
  size_t n_blocks = (n + CKPT_BLOCK_FLOATS - 1) / CKPT_BLOCK_FLOATS;
  uint64_t sum = 0;
#pragma omp parallel for reduction(+ : sum) schedule(static)
  for (size_t b = 0; b < n_blocks; b++) {
    size_t lo = b * CKPT_BLOCK_FLOATS, len = HARDY_MIN(CKPT_BLOCK_FLOATS, n - lo);
    sum += ckpt_xxh64(data + lo, len * sizeof(float), (uint64_t)(first_block + b));
  }
  return sum;
}

uint64_t ckpt_rows_sum(const int64_t *id, const void *data, int64_t n, size_t row_bytes,
                       int64_t first_row) {
  uint64_t sum = 0;
  const unsigned char *rows = data;
  for (int64_t i = 0; i < n; i++) {
    /* the id and the position both enter, so a row moved or relabelled is caught */
    uint64_t seed = (uint64_t)(first_row + i) * P1 ^ (uint64_t)id[i];
    sum += ckpt_xxh64(rows + (size_t)i * row_bytes, row_bytes, seed);
  }
  return sum;
}

/* The metadata record is hashed field by field in a fixed order. */
typedef struct {
  uint64_t h;
} meta_hasher_t;
static void mh(meta_hasher_t *m, const void *p, size_t len) { m->h = ckpt_xxh64(p, len, m->h); }
static void mh_u64(meta_hasher_t *m, uint64_t v) { mh(m, &v, sizeof v); }
static void mh_str(meta_hasher_t *m, const char *s) {
  s = s ? s : "";
  mh_u64(m, strlen(s));
  mh(m, s, strlen(s));
}

uint64_t ckpt_meta_sum(const ckpt_meta_t *meta) {
  const hardy_ckpt_info_t *in = &meta->info;
  meta_hasher_t m = {0x6861726479ull};
  mh_str(&m, in->version);
  int64_t ints[] = {in->layout_version, in->nranks_written, (int64_t)in->n_params, in->adam_step,
                    in->run_index,      in->phase,          in->epoch,            in->step_in_epoch,
                    in->global_step,    in->best_epoch,     in->has_best_params,  (int64_t)in->n_tensors,
                    in->n_tables};
  for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) mh_u64(&m, (uint64_t)ints[i]);
  mh_u64(&m, in->seed);
  mh_u64(&m, in->data_fingerprint);
  mh(&m, &in->best_value, sizeof in->best_value);
  mh_str(&m, in->best_metrics_json);
  mh_str(&m, in->results_json);
  mh_str(&m, in->config_text);
  mh_str(&m, in->data_path);
  /* absent from checkpoints written before it existed: hashed only when present, so their
   * checksums still verify */
  if (in->standardize_json && in->standardize_json[0]) mh_str(&m, in->standardize_json);
  for (int a = 0; a < CKPT_N_ARRAYS; a++) mh_u64(&m, meta->array_sum[a]);
  mh_u64(&m, meta->index_sum);
  for (int t = 0; t < in->n_tables; t++) {
    const hardy_ckpt_table_info_t *ti = &in->tables[t];
    mh_str(&m, ti->name);
    int64_t tv[] = {ti->type, ti->width, ti->n_rows, ti->ids_contiguous, ti->first_id};
    for (size_t i = 0; i < sizeof tv / sizeof tv[0]; i++) mh_u64(&m, (uint64_t)tv[i]);
    mh_u64(&m, meta->table_sum[t]);
  }
  return m.h;
}

/* ---- slices ------------------------------------------------------------------------------- */

void ckpt_slice(size_t n, int rank, int nranks, size_t *lo, size_t *hi) {
  size_t n_blocks = (n + CKPT_BLOCK_FLOATS - 1) / CKPT_BLOCK_FLOATS;
  size_t b0 = n_blocks * (size_t)rank / (size_t)nranks;
  size_t b1 = n_blocks * (size_t)(rank + 1) / (size_t)nranks;
  *lo = HARDY_MIN(b0 * CKPT_BLOCK_FLOATS, n);
  *hi = HARDY_MIN(b1 * CKPT_BLOCK_FLOATS, n);
}

void ckpt_row_slice(int64_t n, int rank, int nranks, int64_t *lo, int64_t *hi) {
  *lo = n * rank / nranks;
  *hi = n * (rank + 1) / nranks;
}

/* ---- HDF5 helpers ----------------------------------------------------------------------- */

size_t ckpt_type_size(int type) {
  return type == HARDY_CKPT_F32 ? 4 : type == HARDY_CKPT_I64 ? 8 : 1;
}
hid_t ckpt_mem_type(int type) {
  return type == HARDY_CKPT_F32 ? H5T_NATIVE_FLOAT
         : type == HARDY_CKPT_I64 ? H5T_NATIVE_INT64
                                  : H5T_NATIVE_UINT8;
}
hid_t ckpt_file_type(int type) {
  return type == HARDY_CKPT_F32 ? H5T_IEEE_F32LE
         : type == HARDY_CKPT_I64 ? H5T_STD_I64LE
                                  : H5T_STD_U8LE;
}
const char *ckpt_type_name(int type) {
  return type == HARDY_CKPT_F32 ? "float32" : type == HARDY_CKPT_I64 ? "int64" : "uint8";
}

int ckpt_attr_put(hid_t obj, const char *name, hid_t file_type, hid_t mem_type, const void *v) {
  hid_t space = H5Screate(H5S_SCALAR);
  hid_t attr = space >= 0 ? H5Acreate2(obj, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT) : -1;
  herr_t err = attr >= 0 ? H5Awrite(attr, mem_type, v) : -1;
  if (attr >= 0) H5Aclose(attr);
  if (space >= 0) H5Sclose(space);
  return err < 0 ? -1 : 0;
}

static hid_t fixed_str_type(size_t len) {
  hid_t t = H5Tcopy(H5T_C_S1);
  if (t >= 0 && (H5Tset_size(t, len ? len : 1) < 0 || H5Tset_strpad(t, H5T_STR_NULLPAD) < 0 ||
                 H5Tset_cset(t, H5T_CSET_UTF8) < 0)) {
    H5Tclose(t);
    return -1;
  }
  return t;
}

int ckpt_attr_put_str(hid_t obj, const char *name, const char *value) {
  hid_t t = fixed_str_type(strlen(value));
  int rc = t >= 0 ? ckpt_attr_put(obj, name, t, t, *value ? value : "") : -1;
  if (t >= 0) H5Tclose(t);
  return rc;
}

int ckpt_attr_get(hid_t obj, const char *name, hid_t mem_type, void *v, const char *path,
                  const char *where) {
  if (H5Aexists(obj, name) <= 0)
    return hardy_fail(HARDY_ERR_INPUT, "%s: attribute '%s' of %s is missing (not a complete "
                      "hardy checkpoint)", path, name, where);
  hid_t attr = H5Aopen(obj, name, H5P_DEFAULT);
  hid_t ft = attr >= 0 ? H5Aget_type(attr) : -1;
  hid_t sp = attr >= 0 ? H5Aget_space(attr) : -1;
  bool ok = ft >= 0 && sp >= 0 && H5Tget_class(ft) == H5Tget_class(mem_type) &&
            H5Sget_simple_extent_npoints(sp) == 1 && H5Aread(attr, mem_type, v) >= 0;
  if (sp >= 0) H5Sclose(sp);
  if (ft >= 0) H5Tclose(ft);
  if (attr >= 0) H5Aclose(attr);
  if (!ok)
    return hardy_fail(HARDY_ERR_INPUT, "%s: attribute '%s' of %s has the wrong type or cannot be "
                      "read (corrupt checkpoint?)", path, name, where);
  return HARDY_OK;
}

int ckpt_attr_get_str(hid_t obj, const char *name, char **out, bool required, const char *path,
                      const char *where) {
  *out = NULL;
  if (H5Aexists(obj, name) <= 0) {
    if (!required) return 0;
    return hardy_fail(HARDY_ERR_INPUT, "%s: attribute '%s' of %s is missing", path, name, where);
  }
  hid_t attr = H5Aopen(obj, name, H5P_DEFAULT);
  hid_t ft = attr >= 0 ? H5Aget_type(attr) : -1;
  bool ok = ft >= 0 && H5Tget_class(ft) == H5T_STRING && H5Tis_variable_str(ft) == 0;
  size_t len = ok ? H5Tget_size(ft) : 0;
  char *buf = ok ? hardy_calloc(len + 1, 1, "checkpoint attribute") : NULL;
  hid_t mt = buf ? fixed_str_type(len) : -1;
  ok = mt >= 0 && H5Aread(attr, mt, buf) >= 0;
  if (mt >= 0) H5Tclose(mt);
  if (ft >= 0) H5Tclose(ft);
  if (attr >= 0) H5Aclose(attr);
  if (!ok) {
    free(buf);
    return hardy_fail(HARDY_ERR_INPUT, "%s: attribute '%s' of %s is not a readable fixed-length "
                      "string (corrupt checkpoint?)", path, name, where);
  }
  *out = buf;
  return 1;
}

int ckpt_text_put(hid_t file, const char *h5path, const char *text, hid_t dxpl, int rank,
                  const char *path) {
  text = text ? text : "";
  size_t len = strlen(text);
  hid_t t = fixed_str_type(len);
  hid_t space = H5Screate(H5S_SCALAR);
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  hid_t d = H5Dcreate2(file, h5path, t, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
  herr_t err = d < 0 ? -1 : 0;
  if (d >= 0) {
    /* every rank takes part in the collective write; rank 0 supplies the bytes */
    hid_t fs = H5Dget_space(d);
    if (rank != 0) H5Sselect_none(fs);
    const char *src = len ? text : "";
    err = H5Dwrite(d, t, fs, fs, dxpl, src);
    H5Sclose(fs);
    H5Dclose(d);
  }
  H5Pclose(lcpl);
  H5Sclose(space);
  H5Tclose(t);
  if (err < 0) return hardy_fail(HARDY_ERR_RUNTIME, "%s: cannot write %s", path, h5path);
  return HARDY_OK;
}

int ckpt_text_get(hid_t file, const char *h5path, char **out, const char *path) {
  *out = NULL;
  hid_t d = H5Lexists(file, h5path, H5P_DEFAULT) > 0 ? H5Dopen2(file, h5path, H5P_DEFAULT) : -1;
  if (d < 0)
    return hardy_fail(HARDY_ERR_INPUT, "%s: dataset %s is missing (not a complete hardy "
                      "checkpoint)", path, h5path);
  hid_t ft = H5Dget_type(d);
  bool ok = ft >= 0 && H5Tget_class(ft) == H5T_STRING && H5Tis_variable_str(ft) == 0;
  size_t len = ok ? H5Tget_size(ft) : 0;
  char *buf = ok ? hardy_calloc(len + 1, 1, "checkpoint text") : NULL;
  hid_t mt = buf ? fixed_str_type(len) : -1;
  ok = mt >= 0 && H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0;
  if (mt >= 0) H5Tclose(mt);
  if (ft >= 0) H5Tclose(ft);
  H5Dclose(d);
  if (!ok) {
    free(buf);
    return hardy_fail(HARDY_ERR_INPUT, "%s: dataset %s is not a readable string (corrupt "
                      "checkpoint?)", path, h5path);
  }
  *out = buf;
  return HARDY_OK;
}

hid_t ckpt_dataset_create(hid_t file, const char *h5path, hid_t file_type, int ndims,
                          const hsize_t *dims) {
  hid_t space = H5Screate_simple(ndims, dims, NULL);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  /* contiguous, allocated at creation, never filled: every byte is written exactly once */
  H5Pset_layout(dcpl, H5D_CONTIGUOUS);
  H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY);
  H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER);
  H5Pset_create_intermediate_group(lcpl, 1);
  hid_t d = space >= 0 ? H5Dcreate2(file, h5path, file_type, space, lcpl, dcpl, H5P_DEFAULT) : -1;
  H5Pclose(lcpl);
  H5Pclose(dcpl);
  if (space >= 0) H5Sclose(space);
  return d;
}

/* ---- tables ------------------------------------------------------------------------------- */

static int table_check(const hardy_ckpt_table_t *t) {
  for (const char *c = t->name; *c; c++)
    if (!(*c == '/' || *c == '_' || *c == '-' || *c == '.' || (*c >= '0' && *c <= '9') ||
          (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z')))
      return hardy_fail(HARDY_ERR_INPUT, "checkpoint table name '%s' has character '%c'; use "
                        "[A-Za-z0-9_./-]", t->name, *c);
  if (!t->name[0] || t->name[0] == '/' || strstr(t->name, "//") || t->name[strlen(t->name) - 1] == '/')
    return hardy_fail(HARDY_ERR_INPUT, "checkpoint table name '%s' is not a relative path",
                      t->name);
  if (t->type < HARDY_CKPT_F32 || t->type > HARDY_CKPT_U8 || t->width < 1 || t->n_local < 0)
    return hardy_fail(HARDY_ERR_INPUT, "checkpoint table '%s': type %d, width %d, %lld rows "
                      "(need a hardy_ckpt_type_t, width >= 1, rows >= 0)", t->name, t->type,
                      t->width, (long long)t->n_local);
  if (t->n_local > 0 && (!t->id || !t->data))
    return hardy_fail(HARDY_ERR_INPUT, "checkpoint table '%s': %lld rows but no id or data array",
                      t->name, (long long)t->n_local);
  for (int64_t i = 0; i < t->n_local; i++)
    if (t->id[i] < 0)
      return hardy_fail(HARDY_ERR_INPUT, "checkpoint table '%s': row %lld has negative id %lld",
                        t->name, (long long)i, (long long)t->id[i]);
  return HARDY_OK;
}

typedef struct {
  int64_t n, first, last, ascending, consecutive;
} span_t;

static span_t local_span(const int64_t *id, int64_t n) {
  span_t s = {n, n ? id[0] : 0, n ? id[n - 1] : 0, 1, 1};
  for (int64_t i = 1; i < n; i++) {
    if (id[i] <= id[i - 1]) s.ascending = 0;
    if (id[i] != id[i - 1] + 1) s.consecutive = 0;
  }
  return s;
}

/* From every rank's span: are the ranks in global order as they stand, and is the whole id
 * column first, first+1, ...? Spans of empty ranks are skipped. */
static void spans_judge(const span_t *sp, int nranks, bool *in_order, bool *contiguous,
                        int64_t *first_id) {
  *in_order = true;
  *contiguous = true;
  *first_id = 0;
  int64_t prev_last = 0;
  bool any = false;
  for (int r = 0; r < nranks; r++) {
    if (!sp[r].n) continue;
    if (!sp[r].ascending || (any && sp[r].first <= prev_last)) *in_order = false;
    if (!sp[r].consecutive || (any && sp[r].first != prev_last + 1)) *contiguous = false;
    if (!any) *first_id = sp[r].first;
    prev_last = sp[r].last;
    any = true;
  }
  *contiguous = *contiguous && *in_order;
}

static int owner_of(int64_t pos, int64_t n_total, int nranks) {
  int r = (int)(pos * nranks / HARDY_MAX(n_total, 1));
  int64_t lo, hi;
  for (;;) {
    ckpt_row_slice(n_total, r, nranks, &lo, &hi);
    if (pos < lo) r--;
    else if (pos >= hi) r++;
    else return r;
  }
}

/* General path: global positions by distributed ranking, then one exchange of records
 * (position, id, row) to the rank whose part holds the position. */
static int table_redistribute(const hardy_ckpt_table_t *t, MPI_Comm comm, ckpt_sorted_t *out) {
  int rank, nranks;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &nranks);
  size_t row_bytes = ckpt_type_size(t->type) * (size_t)t->width, rec = 16 + row_bytes;
  int64_t n = t->n_local;
  double *key = hardy_malloc((size_t)n * sizeof *key, "checkpoint table keys");
  int64_t *pos = hardy_malloc((size_t)n * sizeof *pos, "checkpoint table positions");
  int *scount = hardy_calloc((size_t)nranks, sizeof(int), "checkpoint counts");
  int *rcount = hardy_calloc((size_t)nranks, sizeof(int), "checkpoint counts");
  int *sdisp = hardy_calloc((size_t)nranks + 1, sizeof(int), "checkpoint displs");
  int *rdisp = hardy_calloc((size_t)nranks + 1, sizeof(int), "checkpoint displs");
  int rc = key && pos && scount && rcount && sdisp && rdisp ? HARDY_OK : HARDY_ERR_RUNTIME;
  rc = hardy_agree(rc, comm);
  unsigned char *sbuf = NULL, *rbuf = NULL;
  int64_t n_total = 0;
  MPI_Datatype rec_type = MPI_DATATYPE_NULL;
  if (rc < 0) goto done;
  for (int64_t i = 0; i < n; i++) key[i] = (double)t->id[i]; /* monotone: ties resolved by id */
  rc = hardy_dist_rank(comm, key, t->id, n, pos, &n_total);
  if (rc < 0) goto done;
  for (int64_t i = 0; i < n; i++) scount[owner_of(pos[i], n_total, nranks)]++;
  MPI_Alltoall(scount, 1, MPI_INT, rcount, 1, MPI_INT, comm);
  for (int r = 0; r < nranks; r++) {
    sdisp[r + 1] = sdisp[r] + scount[r];
    rdisp[r + 1] = rdisp[r] + rcount[r];
  }
  ckpt_row_slice(n_total, rank, nranks, &out->row_lo, &out->n_rows);
  out->n_rows -= out->row_lo;
  sbuf = hardy_malloc((size_t)n * rec, "checkpoint table send rows");
  rbuf = hardy_malloc((size_t)rdisp[nranks] * rec, "checkpoint table received rows");
  out->id = hardy_malloc((size_t)out->n_rows * sizeof(int64_t), "checkpoint table ids");
  out->data = hardy_malloc((size_t)out->n_rows * row_bytes, "checkpoint table rows");
  rc = hardy_agree(sbuf && rbuf && out->id && out->data ? HARDY_OK : HARDY_ERR_RUNTIME, comm);
  if (rc < 0) goto done;
  int *fill = scount; /* reused as the per-destination cursor */
  memset(fill, 0, (size_t)nranks * sizeof(int));
  for (int64_t i = 0; i < n; i++) {
    int dst = owner_of(pos[i], n_total, nranks);
    unsigned char *r = sbuf + (size_t)(sdisp[dst] + fill[dst]++) * rec;
    memcpy(r, &pos[i], 8);
    memcpy(r + 8, &t->id[i], 8);
    memcpy(r + 16, (const unsigned char *)t->data + (size_t)i * row_bytes, row_bytes);
  }
  MPI_Type_contiguous((int)rec, MPI_BYTE, &rec_type);
  MPI_Type_commit(&rec_type);
  MPI_Alltoallv(sbuf, fill, sdisp, rec_type, rbuf, rcount, rdisp, rec_type, comm);
  for (int64_t i = 0; i < rdisp[nranks]; i++) {
    const unsigned char *r = rbuf + (size_t)i * rec;
    int64_t p;
    memcpy(&p, r, 8);
    memcpy(&out->id[p - out->row_lo], r + 8, 8);
    memcpy((unsigned char *)out->data + (size_t)(p - out->row_lo) * row_bytes, r + 16, row_bytes);
  }
  out->n_total = n_total;
done:
  if (rec_type != MPI_DATATYPE_NULL) MPI_Type_free(&rec_type);
  free(key), free(pos), free(scount), free(rcount), free(sdisp), free(rdisp), free(sbuf), free(rbuf);
  return rc;
}

int ckpt_table_sort(const hardy_ckpt_table_t *t, MPI_Comm comm, ckpt_sorted_t *out) {
  memset(out, 0, sizeof *out);
  int rank, nranks;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &nranks);
  HARDY_CHECK(hardy_agree(table_check(t), comm));
  span_t *sp = hardy_malloc((size_t)nranks * sizeof *sp, "checkpoint table spans");
  int rc = hardy_agree(sp ? HARDY_OK : HARDY_ERR_RUNTIME, comm);
  if (rc < 0) {
    free(sp);
    return rc;
  }
  span_t mine = local_span(t->id, t->n_local);
  MPI_Allgather(&mine, 5, MPI_INT64_T, sp, 5, MPI_INT64_T, comm);
  bool in_order, contiguous;
  spans_judge(sp, nranks, &in_order, &contiguous, &out->first_id);
  if (in_order) {
    out->borrowed = true;
    out->id = (int64_t *)t->id;
    out->data = (void *)t->data;
    out->n_rows = t->n_local;
    for (int r = 0; r < nranks; r++) {
      if (r < rank) out->row_lo += sp[r].n;
      out->n_total += sp[r].n;
    }
  } else {
    rc = table_redistribute(t, comm, out);
    if (rc == HARDY_OK) {
      mine = local_span(out->id, out->n_rows);
      MPI_Allgather(&mine, 5, MPI_INT64_T, sp, 5, MPI_INT64_T, comm);
      spans_judge(sp, nranks, &in_order, &contiguous, &out->first_id);
    }
  }
  out->contiguous = contiguous;
  free(sp);
  if (rc < 0) ckpt_sorted_free(out);
  return rc;
}

void ckpt_sorted_free(ckpt_sorted_t *s) {
  if (!s->borrowed) {
    free(s->id);
    free(s->data);
  }
  memset(s, 0, sizeof *s);
}

/* ---- root attributes ---------------------------------------------------------------------- */

/* The numeric root attributes, one table for writing and reading so the two cannot drift. */
typedef enum { K_INT, K_I64, K_SIZE, K_BOOL, K_U64, K_F64 } kind_t;
typedef struct {
  const char *name;
  kind_t kind;
  size_t off;
} field_t;

#define F(n, k, member) {n, k, offsetof(ckpt_meta_t, member)}
static const field_t FIELDS[] = {
    F("layout_version", K_INT, info.layout_version),
    F("nranks", K_INT, info.nranks_written),
    F("n_params", K_SIZE, info.n_params),
    F("adam_step", K_I64, info.adam_step),
    F("run_index", K_INT, info.run_index),
    F("phase", K_INT, info.phase),
    F("epoch", K_INT, info.epoch),
    F("step_in_epoch", K_I64, info.step_in_epoch),
    F("global_step", K_I64, info.global_step),
    F("seed", K_U64, info.seed),
    F("best_value", K_F64, info.best_value),
    F("best_epoch", K_INT, info.best_epoch),
    F("has_best_params", K_BOOL, info.has_best_params),
    F("data_fingerprint", K_U64, info.data_fingerprint),
    F("n_tensors", K_SIZE, info.n_tensors),
    F("n_tables", K_INT, info.n_tables),
    F("checksum_params", K_U64, array_sum[CKPT_PARAMS]),
    F("checksum_adam_m", K_U64, array_sum[CKPT_ADAM_M]),
    F("checksum_adam_v", K_U64, array_sum[CKPT_ADAM_V]),
    F("checksum_best_params", K_U64, array_sum[CKPT_BEST]),
    F("checksum_index", K_U64, index_sum),
};
#undef F

int ckpt_meta_write(hid_t file, const ckpt_meta_t *meta) {
  int rc = ckpt_attr_put_str(file, "format", HARDY_CKPT_FORMAT);
  if (rc == 0) rc = ckpt_attr_put_str(file, "program_version", meta->info.version);
  for (size_t i = 0; rc == 0 && i < sizeof FIELDS / sizeof FIELDS[0]; i++) {
    const void *p = (const char *)meta + FIELDS[i].off;
    int64_t i64 = 0;
    switch (FIELDS[i].kind) {
    case K_INT: i64 = *(const int *)p; break;
    case K_I64: i64 = *(const int64_t *)p; break;
    case K_SIZE: i64 = (int64_t) * (const size_t *)p; break;
    case K_BOOL: i64 = *(const bool *)p; break;
    case K_U64: rc = ckpt_attr_put(file, FIELDS[i].name, H5T_STD_U64LE, H5T_NATIVE_UINT64, p); continue;
    case K_F64: rc = ckpt_attr_put(file, FIELDS[i].name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, p); continue;
    }
    rc = ckpt_attr_put(file, FIELDS[i].name, H5T_STD_I64LE, H5T_NATIVE_INT64, &i64);
  }
  if (rc == 0) rc = ckpt_attr_put(file, "checksum_meta", H5T_STD_U64LE, H5T_NATIVE_UINT64,
                                  &(uint64_t){ckpt_meta_sum(meta)});
  return rc;
}

int ckpt_meta_read(hid_t file, ckpt_meta_t *meta, uint64_t *stored_sum, const char *path) {
  char *version = NULL;
  HARDY_CHECK(ckpt_attr_get_str(file, "program_version", &version, true, path, "/"));
  snprintf(meta->info.version, sizeof meta->info.version, "%s", version);
  free(version);
  for (size_t i = 0; i < sizeof FIELDS / sizeof FIELDS[0]; i++) {
    void *p = (char *)meta + FIELDS[i].off;
    int64_t i64 = 0;
    switch (FIELDS[i].kind) {
    case K_U64: HARDY_CHECK(ckpt_attr_get(file, FIELDS[i].name, H5T_NATIVE_UINT64, p, path, "/")); continue;
    case K_F64: HARDY_CHECK(ckpt_attr_get(file, FIELDS[i].name, H5T_NATIVE_DOUBLE, p, path, "/")); continue;
    default: HARDY_CHECK(ckpt_attr_get(file, FIELDS[i].name, H5T_NATIVE_INT64, &i64, path, "/"));
    }
    if (FIELDS[i].kind == K_INT && (i64 < INT32_MIN || i64 > INT32_MAX))
      return hardy_fail(HARDY_ERR_INPUT, "%s: attribute '%s' = %lld is out of range (corrupt "
                        "checkpoint?)", path, FIELDS[i].name, (long long)i64);
    if ((FIELDS[i].kind == K_SIZE || FIELDS[i].kind == K_BOOL) && i64 < 0)
      return hardy_fail(HARDY_ERR_INPUT, "%s: attribute '%s' = %lld is negative (corrupt "
                        "checkpoint?)", path, FIELDS[i].name, (long long)i64);
    switch (FIELDS[i].kind) {
    case K_INT: *(int *)p = (int)i64; break;
    case K_I64: *(int64_t *)p = i64; break;
    case K_SIZE: *(size_t *)p = (size_t)i64; break;
    case K_BOOL: *(bool *)p = i64 != 0; break;
    default: break;
    }
  }
  return ckpt_attr_get(file, "checksum_meta", H5T_NATIVE_UINT64, stored_sum, path, "/");
}
