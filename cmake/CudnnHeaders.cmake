# cuDNN's headers for worker/model/cudnn_fusion.cpp. The library itself is the one LibTorch
# loads, opened at run time, so only the headers are needed: the CUDA toolkit's include dir,
# else the PyTorch wheel's nvidia/cudnn/include. Without them the fused epilogues compile to
# "unavailable" and the model runs its separate epilogue passes.
function(reelscale_cudnn_headers target)
  set(hints ${CMAKE_CUDA_TOOLKIT_INCLUDE_DIRECTORIES})
  find_package(Python3 COMPONENTS Interpreter QUIET)
  if(Python3_FOUND)
    execute_process(COMMAND ${Python3_EXECUTABLE} -c
      "import nvidia.cudnn, os; print(os.path.join(list(nvidia.cudnn.__path__)[0], 'include'))"
      OUTPUT_VARIABLE wheel_include OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    list(APPEND hints ${wheel_include})
  endif()
  find_path(REELSCALE_CUDNN_INCLUDE_DIR cudnn_backend.h HINTS ${hints} PATHS /usr/local/cuda/include /usr/include)
  if(REELSCALE_CUDNN_INCLUDE_DIR)
    target_include_directories(${target} PRIVATE ${REELSCALE_CUDNN_INCLUDE_DIR})
    message(STATUS "cuDNN headers: ${REELSCALE_CUDNN_INCLUDE_DIR} (fused convolution epilogues)")
  else()
    message(STATUS "cuDNN headers not found: convolution epilogues stay separate passes")
  endif()
endfunction()
