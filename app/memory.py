"""The C allocator's settings for high-resolution video. glibc returns a block above its "mmap
threshold" to the kernel when it is freed, and the kernel must clear a new one's pages again (at 4K,
where a frame's working pictures and masks are megabytes each, 10% of the command's CPU); its
own threshold moves with the blocks freed. A fixed, high threshold keeps such blocks in the heap to
be reused. Nothing happens where the C library is not glibc."""
import ctypes

M_MMAP_THRESHOLD = -3           # mallopt's parameter (malloc.h)
MMAP_THRESHOLD_MAX = 32 * 2 ** 20  # the largest glibc accepts on 64-bit systems


def reuse_blocks_below(nbytes=MMAP_THRESHOLD_MAX):
    """Blocks under nbytes come from the heap and are reused after they are freed; True when the
    allocator took the setting."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError, TypeError):  # not glibc (macOS, Windows, musl has no mallopt)
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return mallopt(M_MMAP_THRESHOLD, nbytes) == 1
