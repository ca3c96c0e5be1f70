#!/usr/bin/env bash
# Sets up, builds and runs every test: the release build (tests and
# benchmarks compiled) on io_uring and on epoll, the container image built
# and run in a real Docker engine, the tests again under ASan+UBSan (both
# backends), then a short run of every fuzz
# target (clang, libFuzzer).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export CCACHE_DIR=${CCACHE_DIR:-$PWD/.ccache}

echo "== format (.clang-format)"
git ls-files '*.cc' '*.h' | xargs clang-format --dry-run --Werror

echo "== release build"
# Options are explicit: scripts/demo.sh configures the same folder without tests.
bash scripts/build.sh build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLANEPROXY_TESTS=ON \
  -DLANEPROXY_BENCH=ON -DLANEPROXY_SANITIZE=OFF
# Every test twice: on io_uring (the default where the kernel has it) and
# on Asio's epoll reactor (LANEPROXY_IO=epoll, the fallback), in-process
# servers and spawned laneproxy processes alike.
(cd build && ctest --output-on-failure --no-tests=error -j 2 --timeout 600)
(cd build && LANEPROXY_IO=epoll ctest --output-on-failure --no-tests=error -j 2 --timeout 600)

echo "== the image in a real Docker engine"
bash docker/build_image.sh build/docker-build.log
/usr/bin/python3 test/docker/image_test.py

echo "== ASan+UBSan build"
bash scripts/build.sh build-asan -DCMAKE_BUILD_TYPE=Debug -DLANEPROXY_SANITIZE=ON \
  -DLANEPROXY_TESTS=ON -DLANEPROXY_BENCH=OFF
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd build-asan && ctest --output-on-failure --no-tests=error -j 2 --timeout 900)
(cd build-asan && LANEPROXY_IO=epoll ctest --output-on-failure --no-tests=error -j 2 --timeout 900)

echo "== fuzz targets (clang, libFuzzer, ASan+UBSan), ${LANEPROXY_FUZZ_SECONDS:-60} s each"
CXX=clang++ bash scripts/build.sh build-fuzz -DCMAKE_BUILD_TYPE=Debug -DLANEPROXY_FUZZ=ON \
  -DLANEPROXY_TESTS=OFF -DLANEPROXY_BENCH=OFF -- \
  fuzz_http1_request fuzz_http1_response fuzz_mesh_compile fuzz_bootstrap
bash fuzz/run.sh build-fuzz "${LANEPROXY_FUZZ_SECONDS:-60}"
