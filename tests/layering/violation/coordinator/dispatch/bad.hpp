// A layering violation on purpose: tests/CMakeLists.txt checks that cmake/check_layering.cmake refuses it.
#include "worker/service/worker.hpp"
