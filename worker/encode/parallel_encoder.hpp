#pragma once
// Frame-parallel encoding for intra-only codecs. One ProRes/DNxHR context saturates only a
// few cores at 4K, so N independent encoder contexts each take every N-th frame (round robin)
// on their own thread; the packets are put back in frame order and handed to the sink on the
// caller's thread (the muxer needs no locking, and the sink's exceptions surface where the
// caller is). With intra-only codecs every frame is encoded alone, so the packets are the
// same bytes a single context would produce.
//
// Back-pressure: each worker has a bounded input queue; submit() blocks while the target
// worker's queue is full, and delivers finished packets while it waits. Memory stays bounded
// by N * (queue_depth + 1) frames and packets.
//
// Errors: the first exception of a worker or of the sink stops every thread and is rethrown
// from submit()/finish(); nothing waits forever on a dead thread.
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "shared/media/encoder.hpp"

namespace reelscale::encode {

class ParallelEncoder {
 public:
  using EncoderFactory = std::function<std::unique_ptr<media::FrameEncoder>(int worker)>;
  // Receives packets in frame order (pts = frame number). May throw.
  using PacketSink = std::function<void(av::PacketPtr packet)>;

  // `workers` >= 1 contexts made by `factory` (called on the constructing thread, so open
  // errors surface here). `queue_depth` frames may wait per worker.
  ParallelEncoder(int workers, const EncoderFactory& factory, PacketSink sink, int queue_depth = 2);
  ~ParallelEncoder();
  ParallelEncoder(const ParallelEncoder&) = delete;
  ParallelEncoder& operator=(const ParallelEncoder&) = delete;

  // Takes the next frame; its pts is set to the frame number (0, 1, 2, ... in submit order).
  void submit(av::FramePtr frame);
  // Flushes every context, delivers the remaining packets, joins the threads.
  void finish();

  int workers() const { return int(workers_.size()); }
  int64_t frames_submitted() const { return next_frame_; }
  int64_t packets_delivered() const { return next_packet_; }

  // The number of contexts "auto" (0) means for this many cores: enough contexts to keep the
  // cores busy, each with a couple of slice threads.
  static int auto_workers(int cores);

 private:
  struct Worker {
    std::unique_ptr<media::FrameEncoder> encoder;
    std::deque<av::FramePtr> queue;  // nullptr = end of stream
    std::thread thread;
    bool done = false;
  };
  void run(Worker& w);
  void fail(std::exception_ptr e);  // under lock
  void deliver_ready(std::unique_lock<std::mutex>& lock);
  void stop_and_join() noexcept;
  [[noreturn]] void rethrow();

  std::vector<std::unique_ptr<Worker>> workers_;
  PacketSink sink_;
  size_t queue_depth_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<int64_t, std::vector<av::PacketPtr>> ready_;  // by frame number
  std::exception_ptr error_;
  bool stopping_ = false;
  bool finished_ = false;
  int64_t next_frame_ = 0;
  int64_t next_packet_ = 0;  // the frame number whose packets go out next
};

}  // namespace reelscale::encode
