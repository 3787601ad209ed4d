#pragma once
// On a fatal signal (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT) print the signal and a raw stack
// to stderr, then die of the same signal: a worker that crashes on a rented pod leaves a
// trace in its log even where no debugger is installed (symbolise with addr2line).
namespace reelscale::util {

void install_crash_handler();

}  // namespace reelscale::util
