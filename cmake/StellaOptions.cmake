# Compiler warnings, sanitizers and ccache, applied through one interface target so every
# stella target gets the same flags and nothing leaks into imported targets.

find_program(STELLA_CCACHE ccache)
if(STELLA_CCACHE)
  set(CMAKE_CXX_COMPILER_LAUNCHER "${STELLA_CCACHE}")
endif()

add_library(stella_options INTERFACE)
add_library(stella::options ALIAS stella_options)
target_compile_options(stella_options INTERFACE -Wall -Wextra -Wpedantic -Wshadow
                                                -Wnon-virtual-dtor -Wold-style-cast)
# GCC 12 at -O2/-O3 reports -Wrestrict on std::string concatenation ("x" + std::string(y)),
# a known false positive (GCC PR 105329, fixed in GCC 13); it would break -Werror release builds.
# Likewise at -O3 it reports -Wmismatched-new-delete on Asio's awaitable frames (its
# operator new recycles frames through a thread-local cache that frees with std::free); the
# allocation and release are Asio's own and match.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  target_compile_options(stella_options INTERFACE -Wno-restrict -Wno-mismatched-new-delete)
endif()
if(STELLA_WERROR)
  target_compile_options(stella_options INTERFACE -Werror)
endif()

if(STELLA_TSAN)
  # Data races across the gateway's workers and the transport executor (the tsan preset).
  # -Wno-tsan: Asio recycles handler memory behind std::atomic_thread_fence, which TSan does
  # not model; GCC warns about every such fence.
  set(_tsan -fsanitize=thread -fno-omit-frame-pointer)
  target_compile_options(stella_options INTERFACE -Wno-tsan)
  target_compile_options(stella_options INTERFACE ${_tsan})
  target_link_options(stella_options INTERFACE ${_tsan})
endif()

if(STELLA_COVERAGE)
  # scripts/coverage.sh: gcov counters, read by gcovr after the tests ran.
  target_compile_options(stella_options INTERFACE --coverage -O0)
  target_link_options(stella_options INTERFACE --coverage)
endif()

if(STELLA_SANITIZE OR STELLA_FUZZ)
  set(_san -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  target_compile_options(stella_options INTERFACE ${_san})
  target_link_options(stella_options INTERFACE ${_san})
endif()

# Helper: declare a stella library with the PUBLIC include/ PRIVATE src/ layout.
function(stella_library name)
  cmake_parse_arguments(ARG "" "ALIAS" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include
                                     PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src)
  target_link_libraries(${name} PUBLIC ${ARG_PUBLIC_DEPS} PRIVATE stella::options ${ARG_PRIVATE_DEPS})
  if(ARG_ALIAS)
    add_library(${ARG_ALIAS} ALIAS ${name})
  endif()
endfunction()

if(STELLA_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "STELLA_FUZZ needs clang (libFuzzer); use the 'fuzz' preset")
  endif()
  # Coverage instrumentation for every stella library; fuzz executables add -fsanitize=fuzzer.
  target_compile_options(stella_options INTERFACE -fsanitize=fuzzer-no-link)
endif()
