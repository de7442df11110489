/* test_anthropic_ids.c — which Claude model ids think adaptively (thinking.type "adaptive" with an
 * effort) and which with a token budget: Anthropic's adaptive-thinking docs list Claude 4.6 and
 * later, Fable and Mythos; Sonnet 4.5, Opus 4.5 / 4.1 and Haiku 4.5 take a budget only. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "harness/provider_anthropic.h"

static void adaptive_models(void **state)
{
	(void)state;
	static const char *const yes[] = {"claude-sonnet-5", "claude-opus-5", "claude-opus-5-5", "claude-sonnet-5-5",
					  "claude-haiku-5-5", "claude-opus-4-6", "claude-sonnet-4-6", "claude-opus-4-7",
					  "claude-opus-4-8", "claude-fable-5-1", "claude-mythos-preview",
					  "anthropic.claude-sonnet-5", "claude-opus-4-6-v1"};
	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
		if (!evh_anthropic_adaptive(yes[i]))
			fail_msg("%s should think adaptively", yes[i]);
}

static void budget_models(void **state)
{
	(void)state;
	static const char *const no[] = {"claude-haiku-4-5", "claude-sonnet-4-5-20250929", "claude-opus-4-5-20251101",
					 "claude-opus-4-1-20250805", "claude-3-7-sonnet-20250219", "claude-sonnet-4",
					 "claude-fake", "claude-opus-", "gpt-5", ""};
	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
		if (evh_anthropic_adaptive(no[i]))
			fail_msg("%s should take a thinking budget", no[i]);
	assert_int_equal(evh_anthropic_adaptive(NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(adaptive_models),
		cmocka_unit_test(budget_models),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
