# Build helpers: warnings, sanitizers, one static library per folder, tests beside the code.
option(BASALT_FATAL_WARNINGS "Treat compiler warnings as errors" OFF)
option(BASALT_BUILD_TESTS "Build unit tests" ON)
option(BASALT_SANITIZE_ADDRESS "Build with ASan+UBSan" OFF)
option(BASALT_SANITIZE_THREAD "Build with TSan" OFF)
option(BASALT_FUZZ "Build the libFuzzer targets in fuzz/ (clang only; see scripts/fuzz)" OFF)
# Unity (jumbo) builds of the targets with several sources: a target's .cc files are compiled
# as one translation unit per 8, so the headers they share (nlohmann/json, spdlog, Asio) are
# parsed and their templates instantiated once. scripts/test turns it on for its builds; the
# incremental developer build leaves it off. A name defined in two .cc files of one target (an
# anonymous-namespace constant or helper) breaks it: give one a distinct name.
option(BASALT_UNITY_BUILD "Unity builds of multi-source targets (see scripts/test)" OFF)
# What stays out of it: files that define the same anonymous-namespace name as another file of
# their target (compiled on their own), and targets where many do (under src/, no unity build).
set(BASALT_UNITY_SKIP_SOURCES http/h2_connection.cc metering/quota_test.cc)
# src/image's libtorch targets: their files define same-named helper types (Norm, Conv, ...) in
# anonymous namespaces, and GCC's -Wsubobject-linkage fires on a struct with such members in
# a file that is #included (a unity batch). They precompile <ATen/ATen.h> instead (below).
set(BASALT_UNITY_SKIP_TARGETS basalt_engine basalt_image image_checkpoint_test image_pipeline_test)
# <ATen/ATen.h> costs ~9 s of compiler CPU to parse in every translation unit that includes it;
# precompiled once for basalt_image (~20 s) and reused by the src/image targets that link it,
# each such unit then takes ~2 s (measured for g++ -O1 and clang -O1 ASan). See the top-level
# CMakeLists.txt.
option(BASALT_PRECOMPILE_ATEN "Precompile <ATen/ATen.h> for src/image" ON)

set(BASALT_WARNINGS -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers)
if(BASALT_FATAL_WARNINGS)
  list(APPEND BASALT_WARNINGS -Werror)
endif()

if(BASALT_SANITIZE_ADDRESS)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()
if(BASALT_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "BASALT_FUZZ needs clang (libFuzzer): configure with CXX=clang++")
  endif()
  # Coverage instrumentation for the libraries the fuzz targets exercise (tests and src/image
  # drop it: basalt_no_fuzz_coverage); only the fuzz_* executables link libFuzzer itself.
  add_compile_options(-fsanitize=fuzzer-no-link)
  add_link_options(-fsanitize=fuzzer-no-link)
endif()

# basalt_no_fuzz_coverage(TARGET): compiles TARGET without -fsanitize=fuzzer-no-link. Coverage
# counters and comparison tracing (trace-cmp) cost compile time in every function (measured on
# the src/image formats batch under clang ASan: 22.5 s of CPU without, 28.0 s with) and only
# code that a fuzz target runs needs them; the unit tests and image generation do not.
function(basalt_no_fuzz_coverage name)
  if(NOT BASALT_FUZZ)
    return()
  endif()
  get_target_property(opts ${name} COMPILE_OPTIONS)
  if(opts)
    list(REMOVE_ITEM opts -fsanitize=fuzzer-no-link)
    set_target_properties(${name} PROPERTIES COMPILE_OPTIONS "${opts}")
  endif()
endfunction()
if(BASALT_SANITIZE_THREAD)
  add_compile_options(-fsanitize=thread)
  add_link_options(-fsanitize=thread)
endif()

# basalt_library(NAME SOURCES ... DEPS ...)
function(basalt_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_compile_options(${name} PRIVATE ${BASALT_WARNINGS})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
  basalt_unity(${name} ${ARG_SOURCES})
endfunction()

# basalt_unity(TARGET SOURCES...): a unity build of TARGET when BASALT_UNITY_BUILD is on and it
# has several sources (a single source gains nothing and keeps its object file).
function(basalt_unity name)
  list(LENGTH ARGN n)
  if(NOT BASALT_UNITY_BUILD OR n LESS 2 OR name IN_LIST BASALT_UNITY_SKIP_TARGETS)
    return()
  endif()
  set_target_properties(${name} PROPERTIES UNITY_BUILD ON UNITY_BUILD_BATCH_SIZE 8)
  foreach(src ${ARGN})
    get_filename_component(path ${src} ABSOLUTE)
    file(RELATIVE_PATH rel ${PROJECT_SOURCE_DIR}/src ${path})
    if(rel IN_LIST BASALT_UNITY_SKIP_SOURCES)
      set_source_files_properties(${src} PROPERTIES SKIP_UNITY_BUILD_INCLUSION ON)
    endif()
  endforeach()
endfunction()

# basalt_test(NAME SOURCES ... DEPS ... LABELS ...)
function(basalt_test name)
  if(NOT BASALT_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_compile_options(${name} PRIVATE ${BASALT_WARNINGS})
  basalt_no_fuzz_coverage(${name})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main)
  basalt_unity(${name} ${ARG_SOURCES})
  add_test(NAME ${name} COMMAND ${name} WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  set_tests_properties(${name} PROPERTIES LABELS "${ARG_LABELS}"
    ENVIRONMENT "BASALT_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
endfunction()
