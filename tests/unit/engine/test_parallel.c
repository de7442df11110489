/* test_parallel.c — tensor and expert parallelism on the CPU communication backend (issue 11):
 * every collective against the same computation done serially, a failing or vanished rank making
 * the others return ENG_ECOMM (never hang), the split loader holding exactly the planned slice,
 * and tp=2, tp=4, ep=2, ep=4, tp=2 x ep=2 giving the logits of the whole model on every fixture
 * model (relative error ||split - whole|| / ||whole|| < 1e-5; only the summation order differs). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include "engine/comm.h"
#include "engine/model.h"
#include "engine/parallel.h"
#include "engine/safetensors.h"
#include "tests/unit/engine/engine_testutil.h"

/* ---- collectives ---- */

static float val(int rank, size_t i, int salt)
{
	return (float)((rank * 131 + (int)i * 17 + salt * 7) % 97) * 0.37f - 11.0f;
}

struct coll_arg {
	struct eng_comm *c;
	int fails;    /* collectives that did not return ENG_OK */
	int mismatch; /* results that differ from the serial computation */
};

#define N_EL 37

static void *coll_rank(void *p)
{
	struct coll_arg *a = p;
	struct eng_comm *c = a->c;
	const int r = eng_comm_rank(c), n = eng_comm_size(c);
	float buf[N_EL], want[N_EL];
	/* all_reduce: the serial sum in rank order, bit for bit */
	for (size_t i = 0; i < N_EL; i++) {
		buf[i] = val(r, i, 1);
		want[i] = val(0, i, 1);
		for (int q = 1; q < n; q++)
			want[i] += val(q, i, 1);
	}
	a->fails += eng_comm_all_reduce(c, buf, N_EL, NULL) != ENG_OK;
	a->mismatch += memcmp(buf, want, sizeof buf) != 0;
	/* all_gather */
	float *g = malloc(sizeof(float) * N_EL * n);
	for (size_t i = 0; i < N_EL; i++)
		buf[i] = val(r, i, 2);
	a->fails += eng_comm_all_gather(c, buf, g, N_EL, NULL) != ENG_OK;
	for (int q = 0; q < n; q++)
		for (size_t i = 0; i < N_EL; i++)
			a->mismatch += g[(size_t)q * N_EL + i] != val(q, i, 2);
	/* all_to_all: block d of rank q's send is val(q, d * 5 + i) and lands as block q on rank d */
	float *snd = malloc(sizeof(float) * 5 * n), *rcv = malloc(sizeof(float) * 5 * n);
	for (int d = 0; d < n; d++)
		for (int i = 0; i < 5; i++)
			snd[d * 5 + i] = val(r, (size_t)(d * 5 + i), 3);
	a->fails += eng_comm_all_to_all(c, snd, rcv, 5, NULL) != ENG_OK;
	for (int q = 0; q < n; q++)
		for (int i = 0; i < 5; i++)
			a->mismatch += rcv[q * 5 + i] != val(q, (size_t)(r * 5 + i), 3);
	/* all_to_allv: rank q sends (q + d) % 3 floats to rank d, packed in rank order */
	size_t sc[8], sd[8], rc[8], rd[8], so = 0, ro = 0;
	float vs[64], vr[64];
	for (int d = 0; d < n; d++) {
		sc[d] = (size_t)(r + d) % 3;
		sd[d] = so;
		for (size_t i = 0; i < sc[d]; i++)
			vs[so + i] = val(r, (size_t)d * 10 + i, 4);
		so += sc[d];
		rc[d] = (size_t)(d + r) % 3;
		rd[d] = ro;
		ro += rc[d];
	}
	a->fails += eng_comm_all_to_allv(c, vs, sc, sd, vr, rc, rd, NULL) != ENG_OK;
	for (int q = 0; q < n; q++)
		for (size_t i = 0; i < rc[q]; i++)
			a->mismatch += vr[rd[q] + i] != val(q, (size_t)r * 10 + i, 4);
	/* broadcast from the last rank */
	for (size_t i = 0; i < N_EL; i++)
		buf[i] = val(r, i, 5);
	a->fails += eng_comm_broadcast(c, buf, N_EL, n - 1, NULL) != ENG_OK;
	for (size_t i = 0; i < N_EL; i++)
		a->mismatch += buf[i] != val(n - 1, i, 5);
	a->fails += eng_comm_barrier(c, NULL) != ENG_OK;
	/* split into even and odd ranks, ordered by descending rank; reduce inside each */
	struct eng_comm *sub = NULL;
	a->fails += eng_comm_split(c, r % 2, -r, &sub, NULL) != ENG_OK;
	if (sub) {
		int m = (n - r % 2 + 1) / 2;
		a->mismatch += eng_comm_size(sub) != m;
		/* rank order by key -r: the highest old rank of the color is new rank 0 */
		int expect = 0;
		for (int q = r + 2; q < n; q += 2)
			expect++;
		a->mismatch += eng_comm_rank(sub) != expect;
		float x = (float)r, sum = 0;
		for (int q = r % 2; q < n; q += 2)
			sum += (float)q;
		a->fails += eng_comm_all_reduce(sub, &x, 1, NULL) != ENG_OK;
		a->mismatch += x != sum;
		eng_comm_free(sub);
	} else {
		a->fails++;
	}
	free(g);
	free(snd);
	free(rcv);
	return NULL;
}

static void run_ranks(struct eng_comm **comms, int n, void *(*fn)(void *), struct coll_arg *args)
{
	pthread_t th[8];
	for (int r = 0; r < n; r++) {
		args[r] = (struct coll_arg){.c = comms[r]};
		assert_int_equal(pthread_create(&th[r], NULL, fn, &args[r]), 0);
	}
	for (int r = 0; r < n; r++)
		pthread_join(th[r], NULL);
}

static void test_collectives_match_serial(void **st)
{
	(void)st;
	for (int n = 1; n <= 5; n++) {
		struct eng_comm *comms[8];
		struct coll_arg args[8];
		assert_int_equal(eng_comm_cpu_create(n, 10000, comms, NULL), ENG_OK);
		assert_string_equal(eng_comm_backend(comms[0]), "cpu");
		run_ranks(comms, n, coll_rank, args);
		for (int r = 0; r < n; r++) {
			assert_int_equal(args[r].fails, 0);
			assert_int_equal(args[r].mismatch, 0);
			eng_comm_free(comms[r]);
		}
	}
}

static void *mismatched_a2av(void *p)
{
	struct coll_arg *a = p;
	int r = eng_comm_rank(a->c);
	size_t sc[2] = {1, r ? 2 : 1}, sd[2] = {0, 1}, rc[2] = {1, 1}, rd[2] = {0, 1};
	float s[3] = {1, 2, 3}, v[2];
	struct eng_err err = {0};
	a->fails = eng_comm_all_to_allv(a->c, s, sc, sd, v, rc, rd, &err);
	return NULL;
}

static void test_all_to_allv_count_mismatch(void **st)
{
	(void)st;
	struct eng_comm *comms[2];
	struct coll_arg args[2];
	assert_int_equal(eng_comm_cpu_create(2, 10000, comms, NULL), ENG_OK);
	run_ranks(comms, 2, mismatched_a2av, args);
	assert_int_equal(args[0].fails, ENG_OK);       /* rank 0 expects 1 from rank 1: sent 1... */
	assert_int_equal(args[1].fails, ENG_EMISUSE);  /* rank 1 expects 1 from itself: sends 2 */
	eng_comm_free(comms[0]);
	eng_comm_free(comms[1]);
}

/* ---- failures ---- */

struct fail_arg {
	struct eng_comm *c;
	int mode; /* 0: all_reduce; 1: give up with eng_comm_abort; 2: vanish silently */
	int rc;
	struct eng_err err;
};

static void *fail_rank(void *p)
{
	struct fail_arg *a = p;
	float x[4] = {1, 2, 3, 4};
	if (a->mode == 1)
		eng_comm_abort(a->c, "injected failure");
	if (a->mode == 0) {
		a->rc = eng_comm_all_reduce(a->c, x, 4, &a->err);
		if (a->rc == ENG_OK) /* and once more: a later call also fails */
			a->rc = eng_comm_barrier(a->c, &a->err);
	}
	return NULL;
}

static void check_failure(int mode, const char *needle)
{
	struct eng_comm *comms[3];
	struct fail_arg args[3];
	pthread_t th[3];
	assert_int_equal(eng_comm_cpu_create(3, 300, comms, NULL), ENG_OK);
	for (int r = 0; r < 3; r++) {
		args[r] = (struct fail_arg){.c = comms[r], .mode = r == 2 ? mode : 0};
		assert_int_equal(pthread_create(&th[r], NULL, fail_rank, &args[r]), 0);
	}
	for (int r = 0; r < 3; r++)
		pthread_join(th[r], NULL);
	for (int r = 0; r < 2; r++) {
		assert_int_equal(args[r].rc, ENG_ECOMM);
		if (!strstr(args[r].err.msg, needle))
			fail_msg("rank %d: '%s' lacks '%s'", r, args[r].err.msg, needle);
	}
	for (int r = 0; r < 3; r++)
		eng_comm_free(comms[r]);
}

static void test_failing_rank_gives_error(void **st)
{
	(void)st;
	check_failure(1, "rank 2: injected failure");
	check_failure(2, "timed out after 300 ms");
}

/* ---- model splits ---- */

static const char *const MODELS[] = {
	"engine/models/tiny-arith",
	"tests/fixtures/random/tiny-random-deepseek-v3-bf16",
	"tests/fixtures/random/tiny-random-deepseek-v3-fp8",
	"tests/fixtures/random/tiny-random-qwen3-moe-bf16",
	"tests/fixtures/random/tiny-random-qwen3-moe-fp8",
};
static const int SPLITS[][2] = {{2, 1}, {4, 1}, {1, 2}, {1, 4}, {2, 2}};
static const int TOKENS[] = {0, 5, 17, 300, 42, 7, 9, 1000, 3, 77};
#define N_TOK (int)(sizeof TOKENS / sizeof TOKENS[0])

static void test_loader_holds_the_planned_slice(void **st)
{
	(void)st;
	for (size_t m = 0; m < sizeof MODELS / sizeof MODELS[0]; m++) {
		struct eng_transformer *whole = NULL;
		assert_int_equal(eng_transformer_load(MODELS[m], &whole, NULL), ENG_OK);
		const struct eng_config *c = &whole->cfg;
		int gate_bias = whole->w.layers[c->num_hidden_layers - 1].gate_bias != NULL;
		int own_head = whole->w.head != whole->w.embed;
		assert_int_equal(eng_part_params(c, &whole->part, gate_bias, own_head), whole->n_params);
		for (size_t k = 0; k < sizeof SPLITS / sizeof SPLITS[0]; k++) {
			int tp = SPLITS[k][0], ep = SPLITS[k][1];
			size_t experts = 0;
			for (int r = 0; r < tp * ep; r++) {
				struct eng_transformer *t = NULL;
				struct eng_err err = {0};
				int rc = eng_transformer_load_part(MODELS[m], tp, ep, r, &t, &err);
				if (rc)
					fail_msg("%s rank %d of %dx%d: %s", MODELS[m], r, tp, ep, err.msg);
				assert_int_equal(eng_part_params(c, &t->part, gate_bias, own_head), t->n_params);
				assert_true(t->n_params < whole->n_params);
				/* the rank's expert table holds exactly its own experts */
				const struct eng_layer *L = &t->w.layers[c->num_hidden_layers - 1];
				for (int e = 0; e < c->n_routed_experts; e++) {
					int mine = e >= t->part.expert0 && e < t->part.expert0 + t->part.n_experts;
					assert_int_equal(L->experts[e].w1.w != NULL, mine);
					experts += mine && t->part.tp_rank == 0;
				}
				eng_transformer_free(t);
			}
			assert_int_equal(experts, (size_t)c->n_routed_experts); /* each once over the ep ranks */
		}
		eng_transformer_free(whole);
	}
}

static void test_splits_match_whole_model(void **st)
{
	(void)st;
	for (size_t m = 0; m < sizeof MODELS / sizeof MODELS[0]; m++) {
		struct eng_transformer *whole = NULL;
		assert_int_equal(eng_transformer_load(MODELS[m], &whole, NULL), ENG_OK);
		const int V = whole->cfg.vocab_size;
		float *ref = malloc(sizeof(float) * V * N_TOK);
		struct eng_state *s = NULL;
		assert_int_equal(eng_state_create(whole, N_TOK, &s, NULL), ENG_OK);
		for (int i = 0; i < N_TOK; i++)
			memcpy(ref + (size_t)i * V, eng_forward(whole, s, TOKENS[i], i, 0), sizeof(float) * V);
		eng_state_free(s);
		for (size_t k = 0; k < sizeof SPLITS / sizeof SPLITS[0]; k++) {
			int tp = SPLITS[k][0], ep = SPLITS[k][1];
			struct eng_transformer *t = NULL;
			struct eng_err err = {0};
			if (eng_transformer_load_split(MODELS[m], tp, ep, "cpu", 20000, &t, &err))
				fail_msg("%s %dx%d: %s", MODELS[m], tp, ep, err.msg);
			assert_int_equal(eng_state_create(t, N_TOK, &s, NULL), ENG_OK);
			if (k == 4)
				assert_int_equal(eng_state_threads(s, 2, NULL), ENG_OK);
			double worst = 0;
			for (int i = 0; i < N_TOK; i++) {
				const float *lg = eng_forward(t, s, TOKENS[i], i, i == 3 ? ENG_FF_KV_ONLY : 0);
				if (!lg)
					fail_msg("%s %dx%d: %s", MODELS[m], tp, ep, s->err.msg);
				if (i == 3)
					continue;
				double e = tu_rel_err(lg, ref + (size_t)i * V, V);
				if (e > worst)
					worst = e;
			}
			printf("  %s tp=%d ep=%d: worst relative error %.2e\n", MODELS[m], tp, ep, worst);
			assert_true(worst < 1e-5);
			eng_state_free(s);
			eng_transformer_free(t);
		}
		free(ref);
		eng_transformer_free(whole);
	}
}

/* One rank of a tp=2 split gives up in the middle of a step: the other's eng_forward returns NULL
 * with ENG_ECOMM naming the rank, within the timeout. */
struct step_arg {
	struct eng_transformer *t;
	struct eng_state *s;
	int give_up;
	const float *out;
};

static void *step_rank(void *p)
{
	struct step_arg *a = p;
	if (a->give_up)
		eng_comm_abort(a->s->comm.tp, "rank died");
	else
		a->out = eng_forward(a->t, a->s, 5, 0, 0);
	return NULL;
}

static void test_rank_failing_mid_forward(void **st)
{
	(void)st;
	struct eng_comm *comms[2];
	struct step_arg a[2];
	pthread_t th[2];
	assert_int_equal(eng_comm_cpu_create(2, 2000, comms, NULL), ENG_OK);
	for (int r = 0; r < 2; r++) {
		a[r] = (struct step_arg){.give_up = r == 1};
		assert_int_equal(eng_transformer_load_part("engine/models/tiny-arith", 2, 1, r, &a[r].t, NULL), ENG_OK);
		assert_int_equal(eng_state_create(a[r].t, 4, &a[r].s, NULL), ENG_OK);
		a[r].s->comm = (struct eng_comms){.tp = comms[r], .world = comms[r]};
	}
	for (int r = 0; r < 2; r++)
		assert_int_equal(pthread_create(&th[r], NULL, step_rank, &a[r]), 0);
	for (int r = 0; r < 2; r++)
		pthread_join(th[r], NULL);
	assert_null(a[0].out);
	assert_int_equal(a[0].s->err.code, ENG_ECOMM);
	assert_non_null(strstr(a[0].s->err.msg, "rank 1: rank died"));
	for (int r = 0; r < 2; r++) {
		eng_state_free(a[r].s);
		eng_transformer_free(a[r].t);
		eng_comm_free(comms[r]);
	}
}

static void test_bad_splits_refused(void **st)
{
	(void)st;
	struct eng_transformer *t = NULL;
	struct eng_err err = {0};
	assert_int_equal(eng_transformer_load_split("engine/models/tiny-arith", 8, 1, "cpu", 1000, &t, &err), ENG_EMISUSE);
	assert_null(t);
	assert_non_null(strstr(err.msg, "attention heads"));
	memset(&err, 0, sizeof err);
	assert_int_equal(eng_transformer_load_split("engine/models/tiny-arith", 1, 16, "cpu", 1000, &t, &err), ENG_EMISUSE);
	assert_non_null(strstr(err.msg, "routed experts"));
	memset(&err, 0, sizeof err);
	assert_int_equal(eng_transformer_load_split("engine/models/tiny-arith", 1, 2, "carrier-pigeon", 1000, &t, &err),
			 ENG_EMISUSE);
	memset(&err, 0, sizeof err);
	assert_int_equal(eng_transformer_load_split("tests/fixtures/no-such-model", 2, 1, "cpu", 1000, &t, &err), ENG_EIO);
	assert_non_null(strstr(err.msg, "rank 0"));
}

/* ---- plans ---- */

static void test_span_and_dispatch_plan(void **st)
{
	(void)st;
	int total = 0, s0, n0;
	for (int i = 0; i < 3; i++) {
		eng_span(8, 3, i, &s0, &n0);
		assert_int_equal(s0, total);
		assert_int_equal(n0, i < 2 ? 3 : 2);
		total += n0;
	}
	/* 8 experts over 3 ranks: {0,1,2} {3,4,5} {6,7}; two tokens, top-3 */
	const int idx[] = {0, 1, 7, 5, 6, 2};
	size_t to[3];
	eng_dispatch_plan(idx, 2, 3, 8, 3, 1, to);
	assert_int_equal(to[0], 3);
	assert_int_equal(to[1], 1);
	assert_int_equal(to[2], 2);
	eng_dispatch_plan(idx, 2, 3, 8, 3, 0, to); /* one copy per destination rank */
	assert_int_equal(to[0], 2);
	assert_int_equal(to[1], 1);
	assert_int_equal(to[2], 2);
	struct eng_moe_bytes b;
	eng_moe_bytes(to, 3, 0, 256, &b);
	assert_true(b.dispatch == 3 * (256 + 2 * 4.0)); /* 3 copies leave rank 0 as FP8 + 2 scales */
	assert_true(b.combine == 3 * 512.0);
	assert_true(b.dispatch_local == 2 * 264.0);
}

static void test_memory_plan(void **st)
{
	(void)st;
	struct eng_transformer *t = NULL;
	assert_int_equal(eng_transformer_load("tests/fixtures/random/tiny-random-qwen3-moe-bf16", &t, NULL), ENG_OK);
	struct eng_mem_plan one, plan;
	eng_mem_plan_rank(&t->cfg, &t->part, 2.0, 128, 1, &one);
	assert_true(one.weight_bytes == 2.0 * t->n_params);
	/* a "GPU" holding a bit more than half the model's total needs a split */
	struct eng_err err = {0};
	double gpu = (one.total_bytes - 64.0 * (1 << 20)) * 0.6 + 64.0 * (1 << 20);
	assert_int_equal(eng_mem_plan_gpus(&t->cfg, 2.0, 128, 1, gpu, 1.0, 64, &plan, &err), ENG_OK);
	assert_true(plan.tp * plan.ep >= 2);
	assert_true(plan.total_bytes <= gpu);
	/* one far too small is refused with the numbers */
	assert_int_equal(eng_mem_plan_gpus(&t->cfg, 2.0, 128, 1, 1 << 20, 1.0, 8, &plan, &err), ENG_ELIMIT);
	assert_non_null(strstr(err.msg, "GiB"));
	eng_transformer_free(t);
}

/* ---- rendezvous ---- */

struct rv_arg {
	char master[64];
	int rank, rc;
	unsigned char blob[ENG_COMM_ID_BYTES];
};

static void *rv_node(void *p)
{
	struct rv_arg *a = p;
	a->rc = eng_comm_rendezvous(a->master, 3, a->rank, a->blob, sizeof a->blob, 5000, NULL);
	return NULL;
}

static void test_rendezvous(void **st)
{
	(void)st;
	/* a free port: bind to 0, read it, close (the listener re-binds it with SO_REUSEADDR) */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof sa;
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	close(fd);
	struct rv_arg a[3];
	pthread_t th[3];
	for (int r = 0; r < 3; r++) {
		memset(&a[r], 0, sizeof a[r]);
		snprintf(a[r].master, sizeof a[r].master, "127.0.0.1:%d", ntohs(sa.sin_port));
		a[r].rank = r;
		for (int i = 0; r == 0 && i < ENG_COMM_ID_BYTES; i++)
			a[r].blob[i] = (unsigned char)(i * 7 + 3);
	}
	for (int r = 2; r >= 0; r--) /* the joiners start first and must wait for node 0 */
		assert_int_equal(pthread_create(&th[r], NULL, rv_node, &a[r]), 0);
	for (int r = 0; r < 3; r++)
		pthread_join(th[r], NULL);
	for (int r = 0; r < 3; r++) {
		assert_int_equal(a[r].rc, ENG_OK);
		assert_memory_equal(a[r].blob, a[0].blob, ENG_COMM_ID_BYTES);
	}
	/* nobody listening: the joiner gives up at its timeout */
	struct eng_err err = {0};
	unsigned char b[8];
	char m[64];
	snprintf(m, sizeof m, "127.0.0.1:%d", ntohs(sa.sin_port));
	assert_int_equal(eng_comm_rendezvous(m, 2, 1, b, sizeof b, 200, &err), ENG_ECOMM);
	assert_int_equal(eng_comm_rendezvous("no-port", 2, 1, b, sizeof b, 200, NULL), ENG_EMISUSE);
}

static void test_nccl_absent_is_clean(void **st)
{
	(void)st;
	if (eng_comm_nccl_available()) {
		printf("  NCCL is loadable here; its checks run on the device machine\n");
		return;
	}
	struct eng_comm *c[2] = {(struct eng_comm *)1, (struct eng_comm *)1};
	struct eng_err err = {0};
	assert_int_equal(eng_comm_nccl_create_all(2, NULL, 1000, c, &err), ENG_EUNSUPPORTED);
	assert_null(c[0]);
	assert_non_null(strstr(err.msg, "nccl"));
}

/* ---- engine.h face ---- */

static void test_public_plan_and_options(void **st)
{
	(void)st;
	struct eng_par_opts o;
	struct eng_err err = {0};
	eng_par_opts_defaults(&o);
	assert_int_equal(eng_par_opts_check(&o, "engine/models/tiny-arith", &err), ENG_OK);
	o.tp = 2;
	o.ep = 4;
	assert_int_equal(eng_par_opts_check(&o, "engine/models/tiny-arith", &err), ENG_OK);
	o.ep = 9; /* 8 routed experts */
	assert_int_equal(eng_par_opts_check(&o, "engine/models/tiny-arith", &err), ENG_EMISUSE);
	assert_non_null(strstr(err.msg, "routed experts"));
	memset(&err, 0, sizeof err);
	o.ep = 1;
	o.comm = "mpi";
	assert_int_equal(eng_par_opts_check(&o, NULL, &err), ENG_EMISUSE);
	assert_non_null(strstr(err.msg, "--comm mpi"));

	/* tiny-arith: 4.4M parameters stored as FP8 (+ BF16 norms): fits one GPU of 1 GB ... */
	struct eng_mem_need need;
	assert_int_equal(eng_model_plan("engine/models/tiny-arith", 1e9, 16, 1, &need, NULL), ENG_OK);
	assert_int_equal(need.n_gpus, 1);
	assert_true(need.weight_bytes_total > 4e6 && need.weight_bytes_total < 9e6);
	/* ... and a "GPU" whose planned 90% holds the fixed 64 MiB allowance plus 80% of the rest
	 * needs a split */
	const double allow = 64.0 * (1 << 20);
	double gpu = (allow + (need.bytes_per_rank - allow) * 0.8) / 0.9;
	int rc = eng_model_plan("engine/models/tiny-arith", gpu, 16, 1, &need, &err);
	printf("  tiny-arith on %.1f MB GPUs: %d GPUs (tp %d x ep %d), %.1f MB per rank, rc %d\n", gpu / 1e6, need.n_gpus,
	       need.tp, need.ep, need.bytes_per_rank / 1e6, rc);
	assert_int_equal(rc, ENG_OK);
	assert_true(need.n_gpus >= 2);
	assert_true(need.bytes_per_rank <= gpu * 0.9);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_collectives_match_serial),
		cmocka_unit_test(test_all_to_allv_count_mismatch),
		cmocka_unit_test(test_failing_rank_gives_error),
		cmocka_unit_test(test_loader_holds_the_planned_slice),
		cmocka_unit_test(test_splits_match_whole_model),
		cmocka_unit_test(test_rank_failing_mid_forward),
		cmocka_unit_test(test_bad_splits_refused),
		cmocka_unit_test(test_span_and_dispatch_plan),
		cmocka_unit_test(test_memory_plan),
		cmocka_unit_test(test_rendezvous),
		cmocka_unit_test(test_nccl_absent_is_clean),
		cmocka_unit_test(test_public_plan_and_options),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
