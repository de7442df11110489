#!/bin/sh
# evalh report on the hand-made runs of tests/fixtures/runs, and on two real runs against the
# fake server when the arith pack has been built: files exist, numbers from summary.json, HTML
# well-formed (xmllint), charts valid SVG/PNG, no live <script> from model names or outputs; the
# page opens in headless Chromium when that is installed (screenshot non-empty).
. "$(dirname "$0")/lib.sh"
R="$ROOT/tests/fixtures/runs"

"$EVALH" report "$R/report-a" "$R/report-b" -o "$TMP/rep" 2>"$TMP/rep.err"
check "report exits 0" [ $? -eq 0 ]
check "report.md and report.html written" [ -s "$TMP/rep/report.md" -a -s "$TMP/rep/report.html" ]
check "markdown has report-a arith accuracy and CI from summary.json" \
	grep -q "| alpha-r1 | 10 | 80.0% \[49.0, 94.3\] |" "$TMP/rep/report.md"
check "markdown has report-b cost per M tokens (52.0661)" grep -q "| 52.07 |" "$TMP/rep/report.md"
check "no live <script> in markdown" sh -c "! grep -qi '<script' '$TMP/rep/report.md'"
check "no live <script> in html" sh -c "! grep -qi '<script' '$TMP/rep/report.html'"
check "sample output escaped in html" grep -q "I think &lt;script&gt;alert" "$TMP/rep/report.html"
if command -v xmllint >/dev/null 2>&1; then
	check "html is well-formed" xmllint --noout "$TMP/rep/report.html"
else
	echo "skip - xmllint missing (Debian libxml2-utils)"
fi
if command -v gnuplot >/dev/null 2>&1; then
	for c in acc_task acc_cost latency_total latency_ttft tokens_out tokens_reasoning acc_reasoning; do
		check "$c.svg is an SVG of sensible size" sh -c "[ \$(wc -c <'$TMP/rep/$c.svg') -gt 2000 ] && grep -q '<svg' '$TMP/rep/$c.svg'"
		if command -v xmllint >/dev/null 2>&1; then
			check "$c.svg is well-formed" xmllint --noout "$TMP/rep/$c.svg"
		fi
		if [ -f "$TMP/rep/$c.png" ]; then
			check "$c.png is a PNG" sh -c "head -c 8 '$TMP/rep/$c.png' | od -An -c | grep -q 'P   N   G'"
		fi
	done
	check "charts inlined in html" [ "$(grep -o '<svg' "$TMP/rep/report.html" | wc -l)" -eq 7 ]
else
	echo "skip - gnuplot missing: charts not checked"
fi

# gnuplot missing: the Markdown is still written, with a note.
EVALH_GNUPLOT=/nonexistent/gnuplot "$EVALH" report "$R/report-a" -o "$TMP/nognu" 2>"$TMP/nognu.err"
check "without gnuplot: exit 0" [ $? -eq 0 ]
check "without gnuplot: note in markdown" grep -q "gnuplot could not be run" "$TMP/nognu/report.md"

"$EVALH" report "$TMP/none" -o "$TMP/x" 2>/dev/null
check "missing run: exit 2" [ $? -eq 2 ]

# Real runs: the fake OpenAI server at two behaviours, then one report over both.
PACK="$ROOT/build/packs/arith.tar.gz"
if [ -f "$PACK" ]; then
	start_server
	"$EVALH" run --model "openai:good@$BASE" --tasks "$PACK" --limit 20 --out "$TMP/good" --quiet
	"$EVALH" run --model "openai:scenario:wrong@$BASE" --tasks "$PACK" --limit 20 --out "$TMP/wrong" --quiet
	"$EVALH" report "$TMP/good" "$TMP/wrong" -o "$TMP/real" 2>"$TMP/real.err"
	check "report over two real runs exits 0" [ $? -eq 0 ]
	check "real report has both models" sh -c "grep -q 'openai:good' '$TMP/real/report.md' && grep -q 'scenario:wrong' '$TMP/real/report.md'"
	check "real report has 100.0% for the good server" grep -q "100.0% \[" "$TMP/real/report.md"
	if command -v xmllint >/dev/null 2>&1; then
		check "real html is well-formed" xmllint --noout "$TMP/real/report.html"
	fi
	"$EVALH" gate --baseline "$TMP/good" --candidate "$TMP/wrong" >"$TMP/real-gate.md" 2>&1
	check "gate good -> wrong: regression, exit 1" [ $? -eq 1 ]
else
	echo "skip - $PACK not built: real-run report not checked"
fi

CHROME=$(command -v chromium || command -v chromium-browser || true)
if [ -n "$CHROME" ]; then
	"$CHROME" --headless --no-sandbox --disable-gpu --screenshot="$TMP/shot.png" --window-size=1200,3000 \
		"file://$TMP/rep/report.html" >/dev/null 2>&1
	check "chromium screenshot of the report" [ -s "$TMP/shot.png" ]
else
	echo "skip - chromium missing: the page was not opened in a browser"
fi
finish
