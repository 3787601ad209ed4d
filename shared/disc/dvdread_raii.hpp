#pragma once
// RAII ownership of libdvdread handles (the reader, IFO files and title-set VOB files).
#include <dvdread/dvd_reader.h>
#include <dvdread/ifo_read.h>

#include <memory>

namespace reelscale::disc {

struct ReaderDeleter {
  void operator()(dvd_reader_t* r) const { DVDClose(r); }
};
struct IfoDeleter {
  void operator()(ifo_handle_t* h) const { ifoClose(h); }
};
struct FileDeleter {
  void operator()(dvd_file_t* f) const { DVDCloseFile(f); }
};

using ReaderPtr = std::unique_ptr<dvd_reader_t, ReaderDeleter>;
using IfoPtr = std::unique_ptr<ifo_handle_t, IfoDeleter>;
using FilePtr = std::unique_ptr<dvd_file_t, FileDeleter>;

}  // namespace reelscale::disc
