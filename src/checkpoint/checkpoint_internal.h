/* Private pieces of the checkpoint module shared by checkpoint.c (save), checkpoint_read.c
 * (open, read, compatibility), checkpoint_io.c (checksums, slices, HDF5 attribute and text
 * helpers, table redistribution) and checkpoint_fs.c (atomic rename, pointers, retention).
 * Not a public interface: the rest of the program uses checkpoint.h. */
#ifndef HARDY_CHECKPOINT_INTERNAL_H
#define HARDY_CHECKPOINT_INTERNAL_H

#include <hdf5.h>
#include <mpi.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hardy/checkpoint.h"

/* Flat arrays are checksummed and split over ranks in blocks of this many floats (1 MiB), so
 * the checksum is the same whatever the rank count, and every rank's slice starts on a MiB
 * boundary of the (1 MiB aligned) dataset. */
#define CKPT_BLOCK_FLOATS ((size_t)1 << 18)
#define CKPT_ALIGN_BYTES ((hsize_t)1 << 20)

/* The flat arrays a checkpoint can hold, in file order. */
enum { CKPT_PARAMS = 0, CKPT_ADAM_M = 1, CKPT_ADAM_V = 2, CKPT_BEST = 3, CKPT_N_ARRAYS = 4 };
extern const char *const ckpt_array_path[CKPT_N_ARRAYS];

/* Metadata and checksums of a checkpoint: what the root attributes hold. The metadata
 * checksum covers every field here, so a flipped attribute is caught too. */
typedef struct {
  hardy_ckpt_info_t info;
  uint64_t array_sum[CKPT_N_ARRAYS];
  uint64_t index_sum;
  uint64_t table_sum[HARDY_CKPT_MAX_TABLES];
} ckpt_meta_t;

/* ---- checksums (checkpoint_io.c) -------------------------------------------------------- */
/* XXH64 of bytes[0..len) with `seed` (the published algorithm, so other tools can check). */
uint64_t ckpt_xxh64(const void *bytes, size_t len, uint64_t seed);
/* Sum over the 1 MiB blocks [first_block, ...) of data[0..n) of XXH64(block, seed = block
 * number): a slice's share of an array checksum; shares of all slices add up (mod 2^64) to the
 * same value on any rank count. `data` starts at block first_block. */
uint64_t ckpt_blocks_sum(const float *data, size_t n, size_t first_block);
/* Share of a table checksum of rows [first_row, first_row + n) (sorted order). */
uint64_t ckpt_rows_sum(const int64_t *id, const void *data, int64_t n, size_t row_bytes,
                       int64_t first_row);
uint64_t ckpt_meta_sum(const ckpt_meta_t *meta);
/* Checksum of the packed tensor index (names [n, HARDY_CKPT_TENSOR_NAME_MAX] zero padded,
 * offsets [n], ranks [n], shapes [n, 2]), as stored in /model/index. */
uint64_t ckpt_index_sum(const char *name, const int64_t *offset, const int32_t *rank,
                        const int64_t *shape, size_t n);

/* Root attributes: format, program version, every numeric field of meta and the metadata
 * checksum. Read checks types and ranges; *stored_sum is the checksum as stored. */
int ckpt_meta_write(hid_t file, const ckpt_meta_t *meta);
int ckpt_meta_read(hid_t file, ckpt_meta_t *meta, uint64_t *stored_sum, const char *path);

/* ---- slices ------------------------------------------------------------------------------ */
/* This rank's float range [*lo, *hi) of an n-float array: whole blocks, balanced. */
void ckpt_slice(size_t n, int rank, int nranks, size_t *lo, size_t *hi);
/* This rank's row range of an n-row table: balanced contiguous rows. */
void ckpt_row_slice(int64_t n, int rank, int nranks, int64_t *lo, int64_t *hi);

/* ---- HDF5 helpers (checkpoint_io.c) ------------------------------------------------------ */
size_t ckpt_type_size(int type);
hid_t ckpt_mem_type(int type);
hid_t ckpt_file_type(int type);
const char *ckpt_type_name(int type);
/* Attributes on obj (every rank passes the same value; collective in parallel files). */
int ckpt_attr_put(hid_t obj, const char *name, hid_t file_type, hid_t mem_type, const void *v);
int ckpt_attr_put_str(hid_t obj, const char *name, const char *value);
/* Read a numeric attribute into *v of mem_type; errors name path and the attribute. */
int ckpt_attr_get(hid_t obj, const char *name, hid_t mem_type, void *v, const char *path,
                  const char *where);
/* Read a string attribute; *out malloc'd. Returns 0 when absent and !required. */
int ckpt_attr_get_str(hid_t obj, const char *name, char **out, bool required, const char *path,
                      const char *where);
/* A scalar fixed-length string dataset /meta/<name>: write (rank 0 writes the bytes), read. */
int ckpt_text_put(hid_t file, const char *h5path, const char *text, hid_t dxpl, int rank,
                  const char *path);
int ckpt_text_get(hid_t file, const char *h5path, char **out, const char *path);
/* Create an unchunked dataset of rank 1 or 2, fill never written (each rank writes its part). */
hid_t ckpt_dataset_create(hid_t file, const char *h5path, hid_t file_type, int ndims,
                          const hsize_t *dims);
/* Collective write/read of rows [first, first + count) of a rank 1/2 dataset (width from the
 * dataset), count may be 0 on some ranks. */
int ckpt_rows_io(bool write, hid_t dset, hid_t mem_type, hid_t dxpl, int64_t first,
                 int64_t count, void *buf, const char *path, const char *h5path);

/* ---- tables (checkpoint_io.c) ------------------------------------------------------------ */
/* A table in sorted order, this rank's contiguous part [row_lo, row_lo + n_rows) of it. */
typedef struct {
  int64_t n_total, row_lo, n_rows;
  int64_t *id;    /* [n_rows] ascending (owned, or borrowed when `borrowed`) */
  void *data;     /* [n_rows, width] */
  bool borrowed;  /* the caller's arrays were already in order (fast path) */
  bool contiguous; /* ids are first_id, first_id + 1, ... over the whole table */
  int64_t first_id;
} ckpt_sorted_t;

/* Collective: validate a table (agreed) and bring its rows into global id order, each rank a
 * contiguous part. Uses the caller's arrays when ranks already hold ascending, non-overlapping
 * id ranges in rank order (dataset shards), else ranks rows with hardy_dist_rank and moves
 * them with one MPI_Alltoallv. */
int ckpt_table_sort(const hardy_ckpt_table_t *t, MPI_Comm comm, ckpt_sorted_t *out);
void ckpt_sorted_free(ckpt_sorted_t *s);

/* ---- files (checkpoint_fs.c) ------------------------------------------------------------- */
/* mkdir -p. Local. */
int ckpt_mkdirs(const char *dir);
/* fsync a file or directory by path. Local. */
int ckpt_fsync_path(const char *path, bool is_dir);
/* Write DIR/<pointer> = "target\n" via tmp + rename + directory fsync. Local (rank 0). */
int ckpt_pointer_write(const char *dir, const char *pointer, const char *target);
/* Read DIR/<pointer>; 1 when read, 0 when absent. Local. */
int ckpt_pointer_read(const char *dir, const char *pointer, char *target, size_t cap);
/* Retention (see hardy_ckpt_save). Local (rank 0). */
int ckpt_retain(const char *dir, const char *name, int keep);
/* Checkpoint name check: [A-Za-z0-9_.-], 1..HARDY_CKPT_NAME_MAX-1 characters, no leading dot. */
bool ckpt_name_ok(const char *name);

#endif
