#!/bin/sh
# Build the libFuzzer targets with clang and fuzz each one for a bounded
# time (about FUZZ_TIME seconds in all, default 60) on a copy of the seed
# corpus in build-fuzz/, so the tree's corpus stays as it is. Exits
# non-zero when a target crashes, leaks, times out or breaks an invariant;
# the input that did it is left in build-fuzz/artifacts/.
# FUZZ_TARGETS="ws uri" fuzzes only those, sharing the whole time.
set -eu

cd "$(dirname "$0")/../.."
build=build-fuzz
total=${FUZZ_TIME:-60}
jobs=${FUZZ_BUILD_JOBS:-2}

# target:share of the total time, in percent
targets="msg:26 uri:10 addr:8 via:8 digest:8 hdr:10 pidf:10 dinfo:8 mwi:4 ws:8"
if [ -n "${FUZZ_TARGETS:-}" ]; then
	chosen=""
	for spec in $targets; do
		case " $FUZZ_TARGETS " in
		*" ${spec%%:*} "*) chosen="$chosen $spec" ;;
		esac
	done
	[ -n "$chosen" ] || { echo "fuzz: no target in '$FUZZ_TARGETS'"; exit 1; }
	targets=$chosen
fi
# the shares of the targets run add up to all of the time
sum=0
for spec in $targets; do
	sum=$((sum + ${spec#*:}))
done

mkdir -p "$build"
if ! { cmake -S . -B "$build" -DCMAKE_C_COMPILER=clang -DHR_FUZZ=ON \
	-DCMAKE_BUILD_TYPE=Debug && cmake --build "$build" -j "$jobs"; } \
	>"$build/build.log" 2>&1; then
	tail -40 "$build/build.log"
	echo "fuzz: build failed, log: $build/build.log"
	exit 1
fi

# UBSan findings count as crashes; leaks are reported by libFuzzer.
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1

mkdir -p "$build/artifacts"
failed=""
for spec in $targets; do
	t=${spec%%:*}
	secs=$((total * ${spec#*:} / sum))
	[ "$secs" -ge 1 ] || secs=1
	bin="$build/tests/fuzz/fuzz_$t"
	work="$build/corpus/$t"
	mkdir -p "$work"
	# merge the seeds into the working copy; its finds are kept there
	cp -R tests/fuzz/corpus/"$t"/. "$work"/
	dict=""
	[ "$t" != msg ] || dict="-dict=tests/fuzz/sip.dict"
	echo "fuzz_$t: ${secs}s"
	if ! "$bin" $dict -max_total_time="$secs" -timeout=5 \
		-rss_limit_mb=2048 -print_final_stats=0 \
		-artifact_prefix="$build/artifacts/$t-" \
		"$work" >"$build/fuzz_$t.log" 2>&1; then
		echo "fuzz_$t FAILED, log: $build/fuzz_$t.log"
		grep -E "ERROR|invariant|SUMMARY|artifact" \
			"$build/fuzz_$t.log" | head -20 || true
		failed="$failed $t"
	else
		grep -E "^(#[0-9]+|Done)" "$build/fuzz_$t.log" | tail -1 || true
	fi
done

if [ -n "$failed" ]; then
	echo "fuzz: failed:$failed"
	exit 1
fi
echo "fuzz: all targets passed"
