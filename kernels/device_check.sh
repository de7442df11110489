#!/bin/sh
# device_check.sh — everything about the kernels that only a machine with a Hopper GPU can check,
# in one run (the device tool's `run`; a fresh machine builds here in ~15 s):
#   1. the SASS holds tensor-core instructions (QGMMA for the FP8 wgmma kernel),
#   2. make kernels-test (every kernel vs host references, ragged shapes, poisoned outputs),
#   3. compute-sanitizer memcheck and racecheck on the same tests (Firecracker machines only),
#   4. make bench-gpu (the tables with the peer and the limit beside each figure).
# Writes logs under $OUT when set. Exit status: the tests' (the bench and sanitizers only report).
set -u
OUT=${OUT:-/tmp/krn-out}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv 2>&1 | tee "$OUT/gpu.txt"
make -j8 kernels build/kernels/test_kernels build/kernels/bench_kernels >"$OUT/build.log" 2>&1 || { tail -30 "$OUT/build.log"; exit 1; }
echo "== SASS: tensor-core instructions per kernel object"
for o in build/kernels/*.o; do
	printf '%-32s %s\n' "$o" "$(cuobjdump -sass "$o" 2>/dev/null | grep -c -E 'QGMMA|HGMMA|GMMA')"
done | tee "$OUT/sass.txt"
cuobjdump -sass build/kernels/gemm_fp8.o >"$OUT/gemm_fp8.sass" 2>&1
echo "== tests"
build/kernels/test_kernels >"$OUT/test.txt" 2>&1
rc=$?
cat "$OUT/test.txt"
echo "== compute-sanitizer"
for tool in memcheck racecheck; do
	timeout 240 compute-sanitizer --tool $tool --error-exitcode 9 build/kernels/test_kernels >"$OUT/sanitizer-$tool.txt" 2>&1
	echo "$tool: exit $? (log: sanitizer-$tool.txt)"; tail -3 "$OUT/sanitizer-$tool.txt"
done
echo "== bench"
timeout 240 build/kernels/bench_kernels 2>&1 | tee "$OUT/bench.txt"
exit $rc
