"""The desktop application: frames -> engine (onnxruntime) -> tracker -> drawing -> GUI / video file.

Data flow:  capture.py / video_io.py  ->  engine.py  ->  tracking.py  ->  drawing.py
            -> gui.py (live window) or video_cli.py (files), mask_files.py for saved masks.
"""
