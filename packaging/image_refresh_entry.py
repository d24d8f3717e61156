"""The bundled program's entry point: the same `main` as the `image-refresh` console script.

With IMAGE_REFRESH_BUNDLE_CHECK=1 in the environment it prints what the bundle can do (Qt
platform, fonts, image formats, icons, Pillow codecs, ICU collation) as JSON and exits: the
package tests use it to look inside the installed program.
"""

import os

from gui.launcher import main

if __name__ == "__main__":
    if os.environ.get("IMAGE_REFRESH_BUNDLE_CHECK") == "1":
        from bundle_check import main as check

        raise SystemExit(check())
    raise SystemExit(main())
