# Every third-party library comes from the system (Debian/Ubuntu packages; see scripts/install-deps.sh).
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)

pkg_check_modules(LIBAV REQUIRED IMPORTED_TARGET
  libavformat libavcodec libavfilter libavutil libswscale libswresample)
pkg_check_modules(DVDREAD REQUIRED IMPORTED_TARGET dvdread)
pkg_check_modules(ZMQ REQUIRED IMPORTED_TARGET libzmq)
find_path(CPPZMQ_INCLUDE_DIR zmq.hpp REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(OpenCV REQUIRED COMPONENTS core imgproc)
# OCR is optional so a worker-side or GPU-machine build needs no Tesseract (and its ~50
# libraries); the coordinator then refuses subtitles.ocr with a clear error.
option(REELSCALE_WITH_OCR "Build Tesseract OCR of bitmap subtitles" ON)
if(REELSCALE_WITH_OCR)
  pkg_check_modules(TESSERACT REQUIRED IMPORTED_TARGET tesseract lept)
endif()
find_package(SQLite3 REQUIRED)
find_package(spdlog REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
find_package(nlohmann_json REQUIRED)
find_path(HTTPLIB_INCLUDE_DIR httplib.h)

# yaml-cpp 0.7 (Debian 12) exports "yaml-cpp", 0.8 exports "yaml-cpp::yaml-cpp".
if(TARGET yaml-cpp::yaml-cpp)
  set(REELSCALE_YAML_TARGET yaml-cpp::yaml-cpp)
else()
  set(REELSCALE_YAML_TARGET yaml-cpp)
endif()

if(REELSCALE_WITH_TORCH)
  find_package(Torch QUIET)
  if(NOT Torch_FOUND)
    message(WARNING "LibTorch not found: building without the BasicVSR++ backend (bicubic only)")
    set(REELSCALE_WITH_TORCH OFF)
  endif()
endif()
if(REELSCALE_WITH_CUDA)
  enable_language(CUDA)
endif()
