"""Start Piccolo Admin's bundled demo app on a given 127.0.0.1 port with fresh SQLite data.

Run inside the app's own cache venv: python piccolo_admin_serve.py PORT
"""

import asyncio
import sys

from hypercorn.asyncio import serve
from hypercorn.config import Config
from piccolo_admin.example import app as demo


def main() -> None:
    """Rebuild the demo data and serve the admin on 127.0.0.1:PORT."""
    demo.set_engine("sqlite")
    demo.create_schema(persist=False)
    demo.populate_data(inflate=0, engine="sqlite")
    config = Config()
    config.bind = [f"127.0.0.1:{int(sys.argv[1])}"]
    asyncio.run(serve(demo.APP, config))


if __name__ == "__main__":
    main()
