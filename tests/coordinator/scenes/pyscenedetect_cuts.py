"""Prints PySceneDetect's cut lists (frame numbers, JSON) for a batch of videos and detectors.

Used by tests/coordinator/scenes/corpus_test.cpp to compare reelscale's cuts with PySceneDetect's
when `import scenedetect` works. argv: JOBS.json, a list of {"video", "detector",
"min_scene_len", "threshold" (optional), "method"}; prints a JSON list of cut lists, one per
job. One process for the whole batch: importing OpenCV and PyAV costs seconds.
"""
import json
import sys

from scenedetect import SceneManager, open_video
from scenedetect.detectors import (AdaptiveDetector, ContentDetector, HashDetector,
                                   HistogramDetector, ThresholdDetector)


def detector(job):
    name = job["detector"]
    kw = {"min_scene_len": int(job["min_scene_len"])}
    threshold = job.get("threshold")
    if name == "content":
        return ContentDetector(**kw, **({"threshold": threshold} if threshold else {}))
    if name == "adaptive":
        return AdaptiveDetector(**kw, **({"adaptive_threshold": threshold} if threshold else {}))
    if name == "threshold":
        method = (ThresholdDetector.Method.CEILING if job.get("method") == "ceiling"
                  else ThresholdDetector.Method.FLOOR)
        return ThresholdDetector(**kw, method=method, **({"threshold": threshold} if threshold else {}))
    if name == "hist":
        return HistogramDetector(**kw, **({"threshold": threshold} if threshold else {}))
    if name == "hash":
        return HashDetector(**kw, **({"threshold": threshold} if threshold else {}))
    raise SystemExit("unknown detector " + name)


def cuts(job):
    video = open_video(job["video"], backend="pyav")
    manager = SceneManager()
    manager.add_detector(detector(job))
    manager.detect_scenes(video)
    # The cuts are the starts of every scene after the first.
    return [start.frame_num for start, _ in manager.get_scene_list()[1:]]


def main():
    with open(sys.argv[1]) as f:
        jobs = json.load(f)
    print(json.dumps([cuts(job) for job in jobs]))


if __name__ == "__main__":
    main()
