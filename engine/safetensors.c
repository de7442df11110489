/* safetensors.c — mmap + JSON header (cJSON) + bounds checks; sharded checkpoints through
 * model.safetensors.index.json. Every check names the file and the tensor, since a truncated
 * download is the common failure and the user needs to know which shard to fetch again. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/err.h"
#include "engine/safetensors.h"

/* A header above this is not a checkpoint we know (DeepSeek-V3 shards have ~300 KB headers). */
#define ST_MAX_HEADER (100u << 20)

struct st_file {
	char *path;
	const unsigned char *map;
	size_t size;
};

struct eng_st {
	struct st_file *files;
	size_t n_files;
	struct eng_st_tensor *t;
	size_t n, cap;
};

static const struct {
	const char *name;
	int dtype;
	size_t size;
} dtypes[] = {
	{"F32", ENG_DT_F32, 4}, {"BF16", ENG_DT_BF16, 2}, {"F16", ENG_DT_F16, 2},
	{"F8_E4M3", ENG_DT_F8_E4M3, 1}, {"I32", ENG_DT_I32, 4},
};

size_t eng_dtype_size(int dtype)
{
	for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
		if (dtypes[i].dtype == dtype)
			return dtypes[i].size;
	return 0;
}

const char *eng_dtype_name(int dtype)
{
	for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
		if (dtypes[i].dtype == dtype)
			return dtypes[i].name;
	return "?";
}

void eng_st_close(struct eng_st *st)
{
	if (!st)
		return;
	for (size_t i = 0; i < st->n; i++)
		free((char *)st->t[i].name);
	for (size_t i = 0; i < st->n_files; i++) {
		if (st->files[i].map)
			munmap((void *)st->files[i].map, st->files[i].size);
		free(st->files[i].path);
	}
	free(st->files);
	free(st->t);
	free(st);
}

static int map_file(const char *path, struct st_file *f, struct eng_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return eng_errf(err, ENG_EIO, "%s: cannot open: %s", path, strerror(errno));
	struct stat sb;
	if (fstat(fd, &sb) != 0) {
		int e = errno;
		close(fd);
		return eng_errf(err, ENG_EIO, "%s: cannot stat: %s", path, strerror(e));
	}
	if (sb.st_size < 8) {
		close(fd);
		return eng_errf(err, ENG_EFORMAT, "%s: %lld bytes, shorter than the 8-byte header length", path,
				(long long)sb.st_size);
	}
	void *p = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	/* The mapping keeps the file alive; the descriptor is no longer needed. */
	close(fd);
	if (p == MAP_FAILED)
		return eng_errf(err, ENG_EIO, "%s: mmap failed: %s", path, strerror(errno));
	f->map = p;
	f->size = (size_t)sb.st_size;
	f->path = strdup(path);
	if (!f->path)
		return eng_errf(err, ENG_ENOMEM, "%s: out of memory", path);
	return ENG_OK;
}

static int add_tensor(struct eng_st *st, const struct eng_st_tensor *t, struct eng_err *err)
{
	if (st->n == st->cap) {
		size_t cap = st->cap ? st->cap * 2 : 256;
		struct eng_st_tensor *nt = realloc(st->t, cap * sizeof *nt);
		if (!nt)
			return eng_errf(err, ENG_ENOMEM, "%s: out of memory", t->file);
		st->t = nt;
		st->cap = cap;
	}
	st->t[st->n] = *t;
	st->t[st->n].name = strdup(t->name);
	if (!st->t[st->n].name)
		return eng_errf(err, ENG_ENOMEM, "%s: out of memory", t->file);
	st->n++;
	return ENG_OK;
}

/* Validates one header entry against the data section [data, data + data_len). */
static int parse_entry(const cJSON *e, const char *path, const unsigned char *data, size_t data_len,
		       struct eng_st_tensor *t, struct eng_err *err)
{
	const char *name = e->string;
	const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
	const cJSON *shape = cJSON_GetObjectItemCaseSensitive(e, "shape");
	const cJSON *off = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
	if (!cJSON_IsString(dt) || !cJSON_IsArray(shape) || !cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2)
		return eng_errf(err, ENG_EFORMAT,
				"%s: tensor '%s': header entry needs dtype (string), shape (array) and "
				"data_offsets ([begin, end])",
				path, name);
	memset(t, 0, sizeof *t);
	t->name = name;
	t->file = path;
	t->dtype = -1;
	size_t esize = 0;
	for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
		if (strcmp(dt->valuestring, dtypes[i].name) == 0) {
			t->dtype = dtypes[i].dtype;
			esize = dtypes[i].size;
		}
	if (t->dtype < 0)
		return eng_errf(err, ENG_EUNSUPPORTED,
				"%s: tensor '%s': dtype %s not supported (F32, BF16, F16, F8_E4M3, I32)", path, name,
				dt->valuestring);
	int nd = cJSON_GetArraySize(shape);
	if (nd > ENG_ST_MAX_DIMS)
		return eng_errf(err, ENG_EFORMAT, "%s: tensor '%s': %d dimensions, at most %d", path, name, nd,
				ENG_ST_MAX_DIMS);
	t->ndim = nd;
	size_t numel = 1;
	for (int i = 0; i < nd; i++) {
		const cJSON *d = cJSON_GetArrayItem(shape, i);
		double v = cJSON_IsNumber(d) ? d->valuedouble : -1;
		if (v < 0 || v != floor(v) || v > 9e15)
			return eng_errf(err, ENG_EFORMAT, "%s: tensor '%s': shape[%d] is not a non-negative integer",
					path, name, i);
		t->shape[i] = (int64_t)v;
		if (t->shape[i] != 0 && numel > SIZE_MAX / (size_t)t->shape[i])
			return eng_errf(err, ENG_EFORMAT, "%s: tensor '%s': shape overflows", path, name);
		numel *= (size_t)t->shape[i];
	}
	t->numel = numel;
	double b = cJSON_IsNumber(cJSON_GetArrayItem(off, 0)) ? cJSON_GetArrayItem(off, 0)->valuedouble : -1;
	double en = cJSON_IsNumber(cJSON_GetArrayItem(off, 1)) ? cJSON_GetArrayItem(off, 1)->valuedouble : -1;
	if (b < 0 || en < b || b != floor(b) || en != floor(en))
		return eng_errf(err, ENG_EFORMAT, "%s: tensor '%s': data_offsets must be integers 0 <= begin <= end",
				path, name);
	if (en > (double)data_len)
		return eng_errf(err, ENG_EFORMAT,
				"%s: tensor '%s': data_offsets end %.0f is past the end of the data (%zu bytes; "
				"file truncated?)",
				path, name, en, data_len);
	t->nbytes = (size_t)en - (size_t)b;
	if (numel > SIZE_MAX / esize || t->nbytes != numel * esize)
		return eng_errf(err, ENG_EFORMAT, "%s: tensor '%s': %zu bytes of data, shape and %s need %zu", path,
				name, t->nbytes, dt->valuestring, numel * esize);
	t->data = data + (size_t)b;
	return ENG_OK;
}

/* Maps `path` as file number st->n_files and adds its tensors. */
static int add_file(struct eng_st *st, const char *path, struct eng_err *err)
{
	struct st_file *nf = realloc(st->files, (st->n_files + 1) * sizeof *nf);
	if (!nf)
		return eng_errf(err, ENG_ENOMEM, "%s: out of memory", path);
	st->files = nf;
	struct st_file *f = &st->files[st->n_files++];
	memset(f, 0, sizeof *f);
	int rc = map_file(path, f, err);
	if (rc)
		return rc;
	uint64_t hlen = 0;
	for (int i = 7; i >= 0; i--)
		hlen = hlen << 8 | f->map[i];
	if (hlen > ST_MAX_HEADER || hlen > f->size - 8)
		return eng_errf(err, ENG_EFORMAT,
				"%s: header length %llu does not fit the file (%zu bytes; limit %u; file truncated?)",
				f->path, (unsigned long long)hlen, f->size, ST_MAX_HEADER);
	cJSON *h = cJSON_ParseWithLength((const char *)f->map + 8, (size_t)hlen);
	if (!cJSON_IsObject(h)) {
		cJSON_Delete(h);
		return eng_errf(err, ENG_EFORMAT, "%s: header is not a JSON object", f->path);
	}
	const unsigned char *data = f->map + 8 + hlen;
	size_t data_len = f->size - 8 - (size_t)hlen;
	rc = ENG_OK;
	const cJSON *e;
	cJSON_ArrayForEach(e, h)
	{
		if (strcmp(e->string, "__metadata__") == 0)
			continue;
		struct eng_st_tensor t;
		rc = parse_entry(e, f->path, data, data_len, &t, err);
		if (rc == ENG_OK)
			rc = add_tensor(st, &t, err);
		if (rc)
			break;
	}
	cJSON_Delete(h);
	return rc;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct eng_st_tensor *)a)->name, ((const struct eng_st_tensor *)b)->name);
}

static int finish(struct eng_st *st, struct eng_err *err)
{
	qsort(st->t, st->n, sizeof *st->t, by_name);
	for (size_t i = 1; i < st->n; i++)
		if (strcmp(st->t[i - 1].name, st->t[i].name) == 0)
			return eng_errf(err, ENG_EFORMAT, "%s: tensor '%s' also in %s", st->t[i].file, st->t[i].name,
					st->t[i - 1].file);
	return ENG_OK;
}

/* One whole .safetensors file into st. */
static int open_file(struct eng_st *st, const char *path, struct eng_err *err)
{
	int rc = add_file(st, path, err);
	return rc ? rc : finish(st, err);
}

/* The end of an open: st handed out when rc is ENG_OK, else closed (nothing half-open is left). */
static int hand_out(struct eng_st *st, int rc, struct eng_st **out)
{
	if (rc) {
		eng_st_close(st);
		return rc;
	}
	*out = st;
	return ENG_OK;
}

int eng_st_open(const char *path, struct eng_st **out, struct eng_err *err)
{
	*out = NULL;
	struct eng_st *st = calloc(1, sizeof *st);
	if (!st)
		return eng_errf(err, ENG_ENOMEM, "%s: out of memory", path);
	return hand_out(st, open_file(st, path, err), out);
}

static char *read_small_file(const char *path, size_t limit, int *rc, struct eng_err *err)
{
	FILE *fp = fopen(path, "rb");
	if (!fp) {
		*rc = eng_errf(err, ENG_EIO, "%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	char *buf = malloc(limit + 1);
	size_t n = buf ? fread(buf, 1, limit + 1, fp) : 0;
	int bad = ferror(fp);
	fclose(fp);
	if (!buf) {
		*rc = eng_errf(err, ENG_ENOMEM, "%s: out of memory", path);
		return NULL;
	}
	if (bad || n > limit) {
		free(buf);
		*rc = eng_errf(err, bad ? ENG_EIO : ENG_ELIMIT, "%s: %s", path,
			       bad ? "read error" : "larger than the limit");
		return NULL;
	}
	buf[n] = 0;
	*rc = ENG_OK;
	return buf;
}

static int open_index(struct eng_st *st, const char *dir, const char *index, struct eng_err *err)
{
	int rc;
	char *text = read_small_file(index, 64u << 20, &rc, err);
	if (!text)
		return rc;
	cJSON *j = cJSON_Parse(text);
	free(text);
	const cJSON *map = cJSON_GetObjectItemCaseSensitive(j, "weight_map");
	if (!cJSON_IsObject(map)) {
		cJSON_Delete(j);
		return eng_errf(err, ENG_EFORMAT, "%s: expected a JSON object with a \"weight_map\" object", index);
	}
	const cJSON *e;
	cJSON_ArrayForEach(e, map)
	{
		const char *shard = cJSON_IsString(e) ? e->valuestring : NULL;
		/* Shards are file names beside the index; anything with a path is refused so a hostile
		 * index cannot make us map files elsewhere. */
		if (!shard || !*shard || strchr(shard, '/') || strcmp(shard, "..") == 0 || strcmp(shard, ".") == 0) {
			rc = eng_errf(err, ENG_EFORMAT, "%s: weight_map['%s'] must be a file name in the same folder",
				      index, e->string);
			break;
		}
		char path[4096];
		if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, shard) >= sizeof path) {
			rc = eng_errf(err, ENG_ELIMIT, "%s: path of shard %s too long", index, shard);
			break;
		}
		int seen = 0;
		for (size_t i = 0; i < st->n_files && !seen; i++)
			seen = strcmp(st->files[i].path, path) == 0;
		if (!seen && (rc = add_file(st, path, err)) != ENG_OK)
			break;
	}
	if (rc == ENG_OK && (rc = finish(st, err)) == ENG_OK) {
		/* Every name the index promises must be in the shard it names. */
		cJSON_ArrayForEach(e, map)
		{
			const struct eng_st_tensor *t = eng_st_find(st, e->string);
			if (!t || strcmp(strrchr(t->file, '/') + 1, e->valuestring) != 0) {
				rc = eng_errf(err, ENG_EFORMAT, "%s: tensor '%s' is listed in shard %s but not found there",
					      index, e->string, e->valuestring);
				break;
			}
		}
	}
	cJSON_Delete(j);
	return rc;
}

int eng_st_open_dir(const char *dir, struct eng_st **out, struct eng_err *err)
{
	*out = NULL;
	char index[4096], single[4096];
	if ((size_t)snprintf(index, sizeof index, "%s/model.safetensors.index.json", dir) >= sizeof index ||
	    (size_t)snprintf(single, sizeof single, "%s/model.safetensors", dir) >= sizeof single)
		return eng_errf(err, ENG_ELIMIT, "%s: path too long", dir);
	struct eng_st *st = calloc(1, sizeof *st);
	if (!st)
		return eng_errf(err, ENG_ENOMEM, "%s: out of memory", dir);
	int rc = access(index, F_OK) == 0 ? open_index(st, dir, index, err) : open_file(st, single, err);
	return hand_out(st, rc, out);
}

const struct eng_st_tensor *eng_st_find(const struct eng_st *st, const char *name)
{
	struct eng_st_tensor key = {.name = name};
	return bsearch(&key, st->t, st->n, sizeof *st->t, by_name);
}

size_t eng_st_count(const struct eng_st *st)
{
	return st->n;
}

const struct eng_st_tensor *eng_st_at(const struct eng_st *st, size_t i)
{
	return i < st->n ? &st->t[i] : NULL;
}

/* float8_e4m3fn: 1 sign, 4 exponent (bias 7), 3 mantissa bits; no infinities, S.1111.111 is NaN. */
static float f8e4m3_to_f32(uint8_t v)
{
	int sign = v >> 7, exp = (v >> 3) & 15, man = v & 7;
	float r;
	if (exp == 15 && man == 7)
		r = NAN;
	else if (exp == 0)
		r = ldexpf((float)man / 8.0f, -6);
	else
		r = ldexpf(1.0f + (float)man / 8.0f, exp - 7);
	return sign ? -r : r;
}

static float f16_to_f32(uint16_t h)
{
	int sign = h >> 15, exp = (h >> 10) & 31, man = h & 1023;
	float r;
	if (exp == 0)
		r = ldexpf((float)man, -24);
	else if (exp == 31)
		r = man ? NAN : INFINITY;
	else
		r = ldexpf(1.0f + (float)man / 1024.0f, exp - 15);
	return sign ? -r : r;
}

void eng_st_to_f32(int dtype, const void *src, size_t n, float *dst)
{
	const unsigned char *p = src;
	switch (dtype) {
	case ENG_DT_F32:
		memcpy(dst, src, n * 4);
		break;
	case ENG_DT_BF16:
		for (size_t i = 0; i < n; i++) {
			uint32_t u = (uint32_t)(p[2 * i] | p[2 * i + 1] << 8) << 16;
			memcpy(&dst[i], &u, 4);
		}
		break;
	case ENG_DT_F16:
		for (size_t i = 0; i < n; i++)
			dst[i] = f16_to_f32((uint16_t)(p[2 * i] | p[2 * i + 1] << 8));
		break;
	case ENG_DT_F8_E4M3: {
		float lut[256];
		for (int i = 0; i < 256; i++)
			lut[i] = f8e4m3_to_f32((uint8_t)i);
		for (size_t i = 0; i < n; i++)
			dst[i] = lut[p[i]];
		break;
	}
	default:
		for (size_t i = 0; i < n; i++)
			dst[i] = NAN;
	}
}
