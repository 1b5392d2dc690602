"""The image command: `--image PATH|FOLDER [--out OUT]` annotates still pictures through the one
frame loop (no tracker: each picture stands alone). Every failure a user can cause is a UserError
(one line, exit 2)."""
import os

from tqdm import tqdm

from .effects import EFFECTS
from .engine import Engine
from .errors import UserError
from .frame_loop import results
from .mask_files import IMAGE_WRITE_EXTS, make_folder, write_image_atomic
from .outputs import FrameWriters
from .pipeline import Pipeline
from .settings import Settings
from .sources import ImageFiles, open_source
from .video_io import check_output

ALPHA_IMAGE_EXTS = (".png", ".webp", ".tif", ".tiff")


def output_names(files):
    """One output PNG name per input; inputs that share a stem (a.jpg, a.png) keep their extension."""
    stems = [os.path.splitext(os.path.basename(f))[0] for f in files]
    names = {}
    for f, stem in zip(files, stems):
        ext = os.path.splitext(f)[1].lower().lstrip(".")
        names[f] = f"{stem}_{ext}.png" if stems.count(stem) > 1 else f"{stem}.png"
    return names


def output_path(image, out, many, alpha):
    """Where the pictures go, checked before any work: by default beside the input (photo.jpg ->
    photo_s4net.png, folder/ -> folder_s4net/)."""
    out = out or (os.path.normpath(image) + "_s4net" if many else os.path.splitext(image)[0] + "_s4net.png")
    ext = os.path.splitext(out)[1].lower()
    if many:
        if ext in IMAGE_WRITE_EXTS and not os.path.isdir(out):
            raise UserError(f"--image is a folder, so --out must be a folder, not the image name {out}")
        make_folder(out, "output folder")
        return out
    if alpha and ext not in ALPHA_IMAGE_EXTS:
        raise UserError(f"a cut-out needs an image format with transparency: {', '.join(ALPHA_IMAGE_EXTS)}")
    if ext not in IMAGE_WRITE_EXTS:
        raise UserError(f"cannot write {ext or 'a file without extension'} images: use {', '.join(IMAGE_WRITE_EXTS)}")
    if os.path.exists(out) and os.path.samefile(out, image):
        raise UserError(f"--out is the input file {image}: choose another name")
    check_output(out, formats=dict.fromkeys(IMAGE_WRITE_EXTS))
    return out


def run_images(args, settings: Settings):
    if settings.selection.ids:
        raise UserError("--keep-ids follows tracks across video frames; for images use --keep-largest")
    source: ImageFiles = open_source(args.image, kind="images")
    many = source.folder
    out = output_path(args.image, args.out, many, EFFECTS[settings.effect.name].alpha)
    masks = FrameWriters(args, args.image)
    engine = Engine.for_settings(settings)
    pipe = Pipeline(engine, settings, track=False)
    names = output_names(source.paths)
    done = 0
    for shown in results(tqdm(source, total=len(source), unit="image", desc="images", disable=len(source) < 2), pipe):
        r = shown.result
        target = os.path.join(out, names[r.name]) if many else out
        write_image_atomic(target, shown.picture)
        masks.add(r, name=os.path.splitext(names[r.name])[0] + "_ids.png")
        done += 1
        if not many:
            print(f"{len(r)} instances -> {target} (provider {engine.provider})")
    masks.finish()
    if done == 0:
        raise UserError("no readable image")
    if many:
        print(f"{done} images -> {out} (provider {engine.provider})")
    return 0
