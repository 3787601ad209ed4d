"""Prints PySceneDetect's cut list (frame numbers, JSON) for one video and one detector.

Used by tests/coordinator/scenes/corpus_test.cpp to compare reelscale's cuts with PySceneDetect's when
`import scenedetect` works; argv: VIDEO DETECTOR MIN_SCENE_LEN [THRESHOLD METHOD].
"""
import json
import sys

from scenedetect import SceneManager, open_video
from scenedetect.detectors import (AdaptiveDetector, ContentDetector, HashDetector,
                                   HistogramDetector, ThresholdDetector)


def main():
    path, name, min_len = sys.argv[1], sys.argv[2], int(sys.argv[3])
    threshold = float(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[4] else None
    method = sys.argv[5] if len(sys.argv) > 5 else "floor"
    kw = {"min_scene_len": min_len}
    if name == "content":
        det = ContentDetector(**kw, **({"threshold": threshold} if threshold else {}))
    elif name == "adaptive":
        det = AdaptiveDetector(**kw, **({"adaptive_threshold": threshold} if threshold else {}))
    elif name == "threshold":
        m = ThresholdDetector.Method.CEILING if method == "ceiling" else ThresholdDetector.Method.FLOOR
        det = ThresholdDetector(**kw, method=m, **({"threshold": threshold} if threshold else {}))
    elif name == "hist":
        det = HistogramDetector(**kw, **({"threshold": threshold} if threshold else {}))
    elif name == "hash":
        det = HashDetector(**kw, **({"threshold": threshold} if threshold else {}))
    else:
        raise SystemExit("unknown detector " + name)
    video = open_video(path, backend="pyav")
    manager = SceneManager()
    manager.add_detector(det)
    manager.detect_scenes(video)
    # The cuts are the starts of every scene after the first.
    print(json.dumps([start.frame_num for start, _ in manager.get_scene_list()[1:]]))


if __name__ == "__main__":
    main()
