# Included by the standalone GPU builds (scripts/gpu/<part>/CMakeLists.txt) after their
# project(): the language standards, the default build type (RS_GPU_BUILD_TYPE, set before the
# include), ROOT (the project) and DEPS (.gpu-model/: GoogleTest and nlohmann-json), and
# rs_gpu_model_library() for the parts that build BasicVSR++.
set(CMAKE_CXX_STANDARD 17)
set(CMAKE_CXX_STANDARD_REQUIRED ON)
set(CMAKE_CUDA_STANDARD 17)
if(NOT CMAKE_BUILD_TYPE)
  set(CMAKE_BUILD_TYPE ${RS_GPU_BUILD_TYPE})
endif()
get_filename_component(ROOT "${CMAKE_CURRENT_LIST_DIR}/../.." ABSOLUTE)
set(DEPS "${ROOT}/.gpu-model")
find_package(Threads REQUIRED)

# .gpu-model/'s GoogleTest when carried, else the machine's.
if(EXISTS ${DEPS}/lib/libgtest.a)
  set(GTEST_LIBS ${DEPS}/lib/libgtest_main.a ${DEPS}/lib/libgtest.a)
else()
  find_package(GTest REQUIRED)
  set(GTEST_LIBS GTest::gtest_main GTest::gtest)
endif()

# rs_model: worker/model with CUDA, and the two shared sources it uses.
function(rs_gpu_model_library)
  find_package(Torch REQUIRED)
  file(GLOB model_srcs ${ROOT}/worker/model/*.cpp ${ROOT}/worker/model/*.cu)
  add_library(rs_model STATIC ${model_srcs} ${ROOT}/shared/util/atomic_file.cpp ${ROOT}/shared/upscale/chunk_plan.cpp)
  target_include_directories(rs_model PUBLIC ${ROOT} ${DEPS}/include)
  target_link_libraries(rs_model PUBLIC ${TORCH_LIBRARIES})
  target_compile_definitions(rs_model PUBLIC REELSCALE_HAVE_TORCH=1 REELSCALE_HAVE_CUDA=1)
  # C++ sources that use c10/cuda streams and events (feature_store.cpp, runner.cpp) need the
  # CUDA runtime headers.
  target_include_directories(rs_model PUBLIC ${CMAKE_CUDA_TOOLKIT_INCLUDE_DIRECTORIES})
  include(${ROOT}/cmake/CudnnHeaders.cmake)
  reelscale_cudnn_headers(rs_model)
endfunction()
