"""Writes PySceneDetect's own list-scenes CSV, EDL and OTIO files for a scene list, and prints
where its save-images would take each scene's stills (frame numbers, JSON).

Used by tests/coordinator/scenes/outputs_test.cpp to compare reelscale's files with
PySceneDetect's when `import scenedetect` works. argv: SCENES.json ({"video", "num", "den",
"scenes": [[start, end], ...], "cuts", "num_images", "frame_margin"}), OUT_DIR.
"""
import json
import sys
from fractions import Fraction
from pathlib import Path

from scenedetect import FrameTimecode
from scenedetect.output import write_scene_list, write_scene_list_edl, write_scene_list_otio
from scenedetect.output.image import _generate_timecode_list


def main():
    with open(sys.argv[1]) as f:
        job = json.load(f)
    out = Path(sys.argv[2])
    rate = Fraction(job["num"], job["den"])
    tc = lambda n: FrameTimecode(n, fps=rate)
    scenes = [(tc(s), tc(e)) for s, e in job["scenes"]]
    cuts = [tc(c) for c in job["cuts"]]
    with open(out / "theirs.csv", "w") as f:
        write_scene_list(f, scenes, include_cut_list=True, cut_list=cuts)
    write_scene_list_edl(out / "theirs.edl", scenes, title=Path(job["video"]).stem)
    write_scene_list_otio(out / "theirs.otio", scenes, video_path=job["video"], frame_rate=rate,
                          name=Path(job["video"]).stem)
    images = _generate_timecode_list(scenes, job["num_images"], job["frame_margin"])
    print(json.dumps([[t.frame_num for t in scene] for scene in images]))


if __name__ == "__main__":
    main()
