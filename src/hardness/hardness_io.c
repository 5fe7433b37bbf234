/* hardness.h5: one row per training utterance, written collectively with parallel HDF5 (MPI-IO
 * driver, collective transfers). Each rank writes its rows at the global offset given by the
 * exclusive scan of the row counts, so the file lists utterances in rank order of the shards
 * (with dataset shards, ascending global id). The file is written as PATH.tmp, closed by every
 * rank, then renamed by rank 0, so a crash never leaves a half-written file under the real
 * name. Raw values are float64 so nothing is lost between the estimators and the file. */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hardy/common.h"
#include "hardy/hardness.h"

static int h5_fail(const char *path, const char *what) {
  return hardy_fail(HARDY_ERR_RUNTIME, "%s: HDF5 could not %s", path, what);
}

/* Attributes are metadata: every rank makes the same calls with the same values. */
static int attr_write(hid_t obj, const char *name, hid_t type, const void *value) {
  hid_t space = H5Screate(H5S_SCALAR);
  hid_t attr = space >= 0 ? H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT) : -1;
  herr_t rc = attr >= 0 ? H5Awrite(attr, type, value) : -1;
  if (attr >= 0)
    H5Aclose(attr);
  if (space >= 0)
    H5Sclose(space);
  return rc < 0 ? -1 : 0;
}

static int attr_string(hid_t obj, const char *name, const char *value) {
  hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, H5T_VARIABLE);
  H5Tset_cset(type, H5T_CSET_UTF8);
  int rc = attr_write(obj, name, type, &value);
  H5Tclose(type);
  return rc;
}

static int write_attrs(hid_t group, const hardy_hardness_meta_t *meta, int64_t n_total) {
  const hardy_hardness_params_t *p = &meta->params;
  const long use_direct = p->use_direct, use_indirect = p->use_indirect;
  int rc = 0;
  rc |= attr_string(group, "estimator", p->estimator == HARDY_MI_GAUSSIAN ? "gaussian" : "entropy");
  rc |= attr_string(group, "mi_sign",
                    p->mi_sign == HARDY_MI_HIGH_IS_HARD ? "high_is_hard" : "low_is_hard");
  rc |= attr_write(group, "beta", H5T_NATIVE_DOUBLE, &p->beta);
  rc |= attr_write(group, "alpha1", H5T_NATIVE_DOUBLE, &p->alpha1);
  rc |= attr_write(group, "alpha2", H5T_NATIVE_DOUBLE, &p->alpha2);
  rc |= attr_write(group, "ridge", H5T_NATIVE_DOUBLE, &p->ridge);
  rc |= attr_write(group, "use_direct", H5T_NATIVE_LONG, &use_direct);
  rc |= attr_write(group, "use_indirect", H5T_NATIVE_LONG, &use_indirect);
  rc |= attr_write(group, "n_total", H5T_NATIVE_INT64, &n_total);
  if (meta->missing.condition > 0)
    rc |= attr_string(group, "condition", hardy_condition_name(meta->missing.condition));
  else
    rc |= attr_write(group, "rate", H5T_NATIVE_DOUBLE, &meta->missing.rate);
  return rc;
}

/* Create /hardness/NAME [total, width] and write this rank's rows [offset, offset + n). */
static int write_column(hid_t group, hid_t dxpl, const char *name, hid_t type, const void *buf,
                        int64_t n, int64_t offset, int64_t total, int width) {
  hsize_t dims[2] = {(hsize_t)total, (hsize_t)width}, start[2] = {(hsize_t)offset, 0},
          count[2] = {(hsize_t)n, (hsize_t)width};
  int rank = width > 1 ? 2 : 1;
  hid_t fspace = H5Screate_simple(rank, dims, NULL);
  hid_t mspace = H5Screate_simple(rank, count, NULL);
  hid_t dset = fspace >= 0
                   ? H5Dcreate2(group, name, type, fspace, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)
                   : -1;
  herr_t rc = dset >= 0 && mspace >= 0 ? 0 : -1;
  /* A rank without rows still joins the collective write, with empty selections. */
  if (rc == 0 && n > 0)
    rc = H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL);
  else if (rc == 0) {
    rc = H5Sselect_none(fspace);
    if (rc >= 0)
      rc = H5Sselect_none(mspace);
  }
  if (rc >= 0)
    rc = H5Dwrite(dset, type, mspace, fspace, dxpl, buf);
  if (dset >= 0)
    H5Dclose(dset);
  if (mspace >= 0)
    H5Sclose(mspace);
  if (fspace >= 0)
    H5Sclose(fspace);
  return rc < 0 ? -1 : 0;
}

static int write_columns(hid_t group, hid_t dxpl, const hardy_hardness_t *h, const uint8_t *mask3,
                         int64_t offset, int64_t total) {
  const struct {
    const char *name;
    const double *values;
  } doubles[] = {
      {"direct", h->direct},
      {"mi", h->mi},
      {"indirect", h->indirect},
      {"direct_norm", h->direct_norm},
      {"indirect_norm", h->indirect_norm},
      {"score", h->score},
      {"q", h->q},
  };
  int rc = 0;
  rc |= write_column(group, dxpl, "id", H5T_NATIVE_INT64, h->id, h->n, offset, total, 1);
  rc |= write_column(group, dxpl, "rank", H5T_NATIVE_INT64, h->rank, h->n, offset, total, 1);
  for (size_t c = 0; c < sizeof doubles / sizeof *doubles; c++)
    rc |= write_column(group, dxpl, doubles[c].name, H5T_NATIVE_DOUBLE, doubles[c].values, h->n,
                       offset, total, 1);
  rc |= write_column(group, dxpl, "mask", H5T_NATIVE_UINT8, mask3, h->n, offset, total, 3);
  return rc;
}

int hardy_hardness_write(MPI_Comm comm, const char *path, const hardy_hardness_t *h,
                         const hardy_hardness_meta_t *meta) {
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  int64_t offset = 0, total = 0, n = h->n;
  HARDY_MPI_CHECK(MPI_Exscan(&n, &offset, 1, MPI_INT64_T, MPI_SUM, comm));
  if (rank == 0)
    offset = 0;
  HARDY_MPI_CHECK(MPI_Allreduce(&n, &total, 1, MPI_INT64_T, MPI_SUM, comm));

  char tmp[HARDY_PATH_MAX + 8];
  if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
    return hardy_fail(HARDY_ERR_INPUT, "hardness output path too long: %s", path);
  uint8_t *mask3 = hardy_malloc((size_t)(n + 1) * 3, "hardness mask rows");
  HARDY_CHECK(hardy_agree(mask3 ? HARDY_OK : HARDY_ERR_RUNTIME, comm));
  for (int64_t i = 0; i < n; i++)
    for (int m = 0; m < 3; m++)
      mask3[i * 3 + m] = (uint8_t)((h->mask[i] >> m) & 1);

  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  if (fapl >= 0)
    H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL);
  hid_t file = -1;
  H5E_BEGIN_TRY {
    file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  }
  H5E_END_TRY;
  if (fapl >= 0)
    H5Pclose(fapl);
  int status = file >= 0 ? HARDY_OK
                         : hardy_fail(HARDY_ERR_RUNTIME,
                                      "cannot create %s (does the output "
                                      "directory exist and is it writable?)",
                                      tmp);
  status = hardy_agree(status, comm);
  if (status == HARDY_OK) {
    hid_t group = H5Gcreate2(file, "hardness", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
    if (dxpl >= 0)
      H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE);
    if (group < 0 || dxpl < 0 || write_attrs(group, meta, total) < 0)
      status = h5_fail(tmp, "create /hardness and its attributes");
    else if (write_columns(group, dxpl, h, mask3, offset, total) < 0)
      status = h5_fail(tmp, "write the /hardness datasets");
    if (dxpl >= 0)
      H5Pclose(dxpl);
    if (group >= 0)
      H5Gclose(group);
    if (H5Fclose(file) < 0 && status == HARDY_OK)
      status = h5_fail(tmp, "close the file");
    status = hardy_agree(status, comm);
  }
  free(mask3);
  if (status == HARDY_OK && rank == 0 && rename(tmp, path) != 0)
    status = hardy_fail(HARDY_ERR_RUNTIME, "cannot rename %s to %s", tmp, path);
  return hardy_agree(status, comm);
}
