#pragma once
// A bounded FIFO between two pipeline stages (one producer thread, one consumer thread) with
// back-pressure both ways and the errors of either side:
// - push() blocks while the queue is full; it returns false once the consumer has stopped
//   (the producer then unwinds);
// - pop() blocks while it is empty; nullopt after close() or stop(); rethrows the producer's
//   fail() once the queued items are taken;
// - stop() (consumer, or the owner of both) drops the queued items and wakes both sides;
// - grow() lets the producer run further ahead (a consumer that learns how much it will take).
// Waiting times are added to the caller's counters (the stage timings).
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>

namespace reelscale {

template <class T>
class BoundedQueue {
 public:
  explicit BoundedQueue(size_t depth) : depth_(depth < 1 ? 1 : depth) {}

  void grow(size_t depth) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (depth > depth_) depth_ = depth;
    }
    cv_.notify_all();
  }
  size_t depth() const {
    std::lock_guard<std::mutex> lock(mu_);
    return depth_;
  }

  bool push(T item, double& waited) {
    std::unique_lock<std::mutex> lock(mu_);
    if (items_.size() >= depth_ && !stopped_) {
      const auto t = std::chrono::steady_clock::now();
      cv_.wait(lock, [&] { return items_.size() < depth_ || stopped_; });
      waited += std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
    }
    if (stopped_) return false;
    items_.push_back(std::move(item));
    lock.unlock();
    cv_.notify_all();
    return true;
  }

  std::optional<T> pop(double& waited) {
    std::unique_lock<std::mutex> lock(mu_);
    if (items_.empty() && !closed_ && !error_ && !stopped_) {
      const auto t = std::chrono::steady_clock::now();
      cv_.wait(lock, [&] { return !items_.empty() || closed_ || error_ || stopped_; });
      waited += std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
    }
    if (!items_.empty()) {
      T item = std::move(items_.front());
      items_.pop_front();
      lock.unlock();
      cv_.notify_all();
      return item;
    }
    if (error_ && !stopped_) std::rethrow_exception(error_);
    return std::nullopt;
  }

  void close() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      closed_ = true;
    }
    cv_.notify_all();
  }
  void fail(std::exception_ptr e) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!error_) error_ = e;
    }
    cv_.notify_all();
  }
  void stop() {
    std::deque<T> drop;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopped_ = true;
      drop.swap(items_);
    }
    cv_.notify_all();
    // `drop` is destroyed here, outside the lock: items may hold pool buffers whose release
    // takes other locks.
  }

 private:
  size_t depth_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<T> items_;
  std::exception_ptr error_;
  bool closed_ = false, stopped_ = false;
};

}  // namespace reelscale
