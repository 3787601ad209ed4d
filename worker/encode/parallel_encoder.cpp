#include "worker/encode/parallel_encoder.hpp"

#include <algorithm>

#include "shared/util/errors.hpp"

namespace reelscale::encode {

ParallelEncoder::ParallelEncoder(int workers, const EncoderFactory& factory, PacketSink sink,
                                 int queue_depth)
    : sink_(std::move(sink)), queue_depth_(size_t(std::max(1, queue_depth))) {
  if (workers < 1) throw Error("parallel encoder: needs at least one encoder context");
  for (int i = 0; i < workers; ++i) {
    auto w = std::make_unique<Worker>();
    w->encoder = factory(i);
    workers_.push_back(std::move(w));
  }
  try {
    for (auto& w : workers_) {
      Worker* wp = w.get();
      w->thread = std::thread([this, wp] { run(*wp); });
    }
  } catch (...) {
    stop_and_join();
    throw;
  }
}

ParallelEncoder::~ParallelEncoder() { stop_and_join(); }

int ParallelEncoder::auto_workers(int cores) {
  // Intra codecs scale almost linearly across contexts, better than across slices; past 16 the
  // queued 4K frames cost more memory than the extra contexts gain.
  return std::clamp(cores, 1, 16);
}

void ParallelEncoder::run(Worker& w) {
  for (;;) {
    av::FramePtr frame;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !w.queue.empty(); });
      if (stopping_) return;
      frame = std::move(w.queue.front());
      w.queue.pop_front();
    }
    cv_.notify_all();  // queue space for the submitter
    const bool eos = !frame;
    std::vector<av::PacketPtr> out;
    try {
      if (eos)
        w.encoder->flush(out);
      else
        w.encoder->encode(frame.get(), out);
      for (const auto& p : out)
        if (p->pts == AV_NOPTS_VALUE)
          throw MediaError("parallel encoder: the encoder returned a packet without a timestamp");
    } catch (...) {
      std::lock_guard<std::mutex> lock(mu_);
      fail(std::current_exception());
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& p : out) {
        const int64_t n = p->pts;
        ready_[n].push_back(std::move(p));
      }
      if (eos) w.done = true;
    }
    cv_.notify_all();
    if (eos) return;
  }
}

void ParallelEncoder::fail(std::exception_ptr e) {
  if (!error_) error_ = e;
  stopping_ = true;
  cv_.notify_all();
}

void ParallelEncoder::deliver_ready(std::unique_lock<std::mutex>& lock) {
  while (!error_) {
    auto it = ready_.find(next_packet_);
    if (it == ready_.end()) return;
    std::vector<av::PacketPtr> packets = std::move(it->second);
    ready_.erase(it);
    lock.unlock();
    try {
      for (auto& p : packets) sink_(std::move(p));
    } catch (...) {
      lock.lock();
      fail(std::current_exception());
      return;
    }
    lock.lock();
    ++next_packet_;
  }
}

void ParallelEncoder::stop_and_join() noexcept {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& w : workers_)
    if (w->thread.joinable()) w->thread.join();
}

void ParallelEncoder::rethrow() {
  stop_and_join();
  std::rethrow_exception(error_);
}

void ParallelEncoder::submit(av::FramePtr frame) {
  if (!frame) throw Error("parallel encoder: null frame submitted");
  if (finished_) throw Error("parallel encoder: frame submitted after finish()");
  frame->pts = next_frame_;
  Worker& w = *workers_[size_t(next_frame_ % int64_t(workers_.size()))];
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (error_) {
      lock.unlock();
      rethrow();
    }
    deliver_ready(lock);
    if (error_) continue;
    if (w.queue.size() < queue_depth_) break;
    cv_.wait(lock);
  }
  w.queue.push_back(std::move(frame));
  ++next_frame_;
  lock.unlock();
  cv_.notify_all();
}

void ParallelEncoder::finish() {
  if (finished_) return;
  std::unique_lock<std::mutex> lock(mu_);
  if (error_) {
    lock.unlock();
    rethrow();
  }
  for (auto& w : workers_) w->queue.push_back(nullptr);  // end of stream: never blocks
  cv_.notify_all();
  for (;;) {
    deliver_ready(lock);
    if (error_) {
      lock.unlock();
      rethrow();
    }
    const bool all_done = std::all_of(workers_.begin(), workers_.end(),
                                      [](const auto& w) { return w->done; });
    if (all_done && ready_.find(next_packet_) == ready_.end()) break;
    if (!all_done) cv_.wait(lock);
  }
  lock.unlock();
  stop_and_join();
  finished_ = true;
  if (next_packet_ != next_frame_ || !ready_.empty())
    throw MediaError("parallel encoder: no packet came out for frame " +
                     std::to_string(next_packet_) + " of " + std::to_string(next_frame_));
}

}  // namespace reelscale::encode
