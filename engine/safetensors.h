/* safetensors.h — read-only views of tensors in one or several mmapped .safetensors files
 * (the Hugging Face format: 8-byte little-endian header length, JSON header, raw data).
 * Nothing is copied: a tensor's data points into the mapping and lives until eng_st_close. */
#ifndef ENG_SAFETENSORS_H
#define ENG_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "engine/engine.h"

enum eng_dtype { ENG_DT_F32 = 0, ENG_DT_BF16, ENG_DT_F16, ENG_DT_F8_E4M3, ENG_DT_I32 };

#define ENG_ST_MAX_DIMS 8

struct eng_st_tensor {
	const char *name;
	const char *file; /* path of the file holding it, for error messages */
	int dtype;        /* enum eng_dtype */
	int ndim;
	int64_t shape[ENG_ST_MAX_DIMS];
	size_t numel;
	const void *data; /* unaligned; read through memcpy or byte access */
	size_t nbytes;
};

struct eng_st;

/* Opens one .safetensors file, validating the whole header against the file size (every tensor's
 * byte range inside the data section and equal to numel * dtype size). On failure *out is NULL and
 * err names the file and tensor. */
int eng_st_open(const char *path, struct eng_st **out, struct eng_err *err);

/* Opens a checkpoint folder: model.safetensors.index.json (sharded; every shard it names) when
 * present, else model.safetensors. A tensor name found twice is an error. */
int eng_st_open_dir(const char *dir, struct eng_st **out, struct eng_err *err);

void eng_st_close(struct eng_st *st); /* NULL allowed */

/* Borrowed view, NULL when absent. */
const struct eng_st_tensor *eng_st_find(const struct eng_st *st, const char *name);
size_t eng_st_count(const struct eng_st *st);
const struct eng_st_tensor *eng_st_at(const struct eng_st *st, size_t i); /* sorted by name */

size_t eng_dtype_size(int dtype);
const char *eng_dtype_name(int dtype);

/* Converts n elements of a float tensor (F32/BF16/F16/F8_E4M3, no scaling) to float32. */
void eng_st_to_f32(int dtype, const void *src, size_t n, float *dst);

#endif
