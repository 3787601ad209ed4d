// main() of every test suite: GoogleTest's, plus the crash handler the CLI installs, so that a
// suite dying of a signal (seen on the GPU machine) prints where.
#include <gtest/gtest.h>

#include "shared/util/crash_handler.hpp"

int main(int argc, char** argv) {
  reelscale::util::install_crash_handler();
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
