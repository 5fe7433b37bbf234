/* The internal HDF5 layer (module h5) under the dataset, checkpoint, hardness and kNN modules:
 * opening files with the MPI-IO driver after plain-file checks that turn "not HDF5 / empty /
 * truncated / missing" into one readable sentence, quieting HDF5's automatic error-stack
 * printing, attribute and table readers that accept any on-disk integer/float/string flavour,
 * and collective reads/writes of unions of row ranges. Not a public interface: nothing outside
 * src/ includes it. */
#ifndef HARDY_H5_H
#define HARDY_H5_H

#include <hdf5.h>
#include <mpi.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A run of file rows [first, first + count). */
typedef struct {
  int64_t first, count;
} hardy_row_range_t;

/* Replace HDF5's automatic error-stack printing for this process by a handler that keeps the
 * innermost message of the last failed call (errors are then reported through hardy_fail
 * with that message). Idempotent. */
void hardy_h5_quiet(void);

/* The innermost (most specific) description of the last failed HDF5 call, or "unknown HDF5
 * error"; written into buf. */
const char *hardy_h5_error_text(char *buf, size_t cap);

/* Record "<path>: <what>: <HDF5 message>" as the error and return `code`. */
int hardy_h5_fail(int code, const char *path, const char *what);

/* Checks that need no HDF5: the file exists, is readable, is not empty and carries the HDF5
 * signature. Local. Returns HARDY_ERR_INPUT with a message naming the file otherwise. */
int hardy_h5_precheck(const char *path);
/* With `on`, hardy_h5_precheck also walks the file's structure (every object header and
 * attribute) in a forked child process through the POSIX driver, after the caller's own
 * metadata `reads` (may be NULL), so that HDF5 crashing or looping on corrupt metadata becomes
 * an error naming the file; the child gets `seconds` (HARDY_STRUCTURE_CHECK_SECONDS in the
 * environment overrides). Local; call before the collective open. */
void hardy_h5_set_structure_check(bool on, int seconds, int (*reads)(hid_t file));

/* Collective over comm: rank 0 prechecks, then every rank opens `path` read-only with the
 * MPI-IO driver. Errors are agreed; on success *file is open on every rank (close with
 * H5Fclose, collectively). */
int hardy_h5_open_read(const char *path, MPI_Comm comm, hid_t *file);
/* The same with the caller's precheck (run on rank 0) and the hint appended when HDF5 cannot
 * open the file (e.g. "truncated or corrupt checkpoint; use an older one"). */
int hardy_h5_open_read_as(const char *path, MPI_Comm comm, hid_t *file,
                          int (*precheck)(const char *path), const char *corrupt_hint);

/* File access property list for the MPI-IO driver on comm (close with H5Pclose). */
hid_t hardy_h5_fapl_mpio(MPI_Comm comm);
/* Transfer property list with collective MPI-IO (close with H5Pclose). */
hid_t hardy_h5_dxpl_collective(void);

/* Which HDF5 class an on-disk type has, as a word for messages ("integer", "float", ...). */
const char *hardy_h5_class_name(H5T_class_t cls);

/* Collective (with a collective dxpl) read or write of the union of `n_ranges` row ranges of a
 * rank-1 or rank-2 dataset (row width = dims[1], or 1). `buf` holds the rows packed in range
 * order, each `width` elements of `mem_type`. n_ranges may be 0 (the rank still takes part).
 * Errors name `path` and the dataset's HDF5 path `h5path`. */
int hardy_h5_read_rows(hid_t dset, hid_t mem_type, hid_t dxpl, const hardy_row_range_t *ranges,
                       int64_t n_ranges, void *buf, const char *path, const char *h5path);
int hardy_h5_write_rows(hid_t dset, hid_t mem_type, hid_t dxpl, const hardy_row_range_t *ranges,
                        int64_t n_ranges, const void *buf, const char *path, const char *h5path);

/* Read a string attribute of `obj` (scalar, fixed or variable length) into out[cap]. Returns
 * 1 when read, 0 when absent (and not required), or an error naming path/attribute. */
int hardy_h5_attr_string(hid_t obj, const char *name, char *out, size_t cap, bool required,
                         const char *path);
/* Read an integer attribute (scalar or one element). Same return convention. */
int hardy_h5_attr_long(hid_t obj, const char *name, long *out, bool required, const char *path);
/* Read a 1-D string array attribute into *out (malloc'd array of malloc'd strings, *n_out
 * entries). Same return convention. Free with hardy_h5_free_strings. */
int hardy_h5_attr_strings(hid_t obj, const char *name, char ***out, int64_t *n_out, bool required,
                          const char *path);
void hardy_h5_free_strings(char **s, int64_t n);

/* Write attributes on obj (string ones as variable-length UTF-8, as h5py does). Serial only. */
int hardy_h5_write_attr_string(hid_t obj, const char *name, const char *value);
int hardy_h5_write_attr_long(hid_t obj, const char *name, long value);
int hardy_h5_write_attr_strings(hid_t obj, const char *name, char *const *values, int64_t n);

#endif
