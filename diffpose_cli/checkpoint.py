"""Reading weight files without ever running code from them."""

import pickle
import warnings

import torch

from .errors import DiffposeError


def safe_torch_load(path, what: str):
    """torch.load with weights_only=True (tensors and plain containers only), one-line errors.

    A file whose pickle asks for anything else (a class, a function: the way a tampered file
    would run code) is refused, and said so, instead of torch's multi-line explanation.
    """
    try:
        with open(path, "rb") as f:
            head = f.read(2)
    except OSError as e:
        raise DiffposeError(f"cannot read {what} {path}: {e.strerror or e}") from None
    # torch.save writes a zip archive (or, in its legacy format, a pickle with its protocol byte)
    if head != b"PK" and head[:1] != b"\x80":
        raise DiffposeError(f"{what} {path} is not a PyTorch checkpoint (not a zip archive or pickle: "
                            "a text file, or another kind of file)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise DiffposeError(f"{what} {path} holds Python objects besides tensors; refused to load "
                            "it, since unpickling them could run code") from None
    except Exception as e:  # truncated, not a zip, not a pickle at all
        first = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        raise DiffposeError(f"cannot read {what} {path}: not a valid PyTorch checkpoint "
                            f"({first})") from None
