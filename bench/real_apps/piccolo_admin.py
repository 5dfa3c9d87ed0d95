"""Drive Piccolo Admin's demo as a person would: log in, browse, open, edit, add, delete, filter."""

from __future__ import annotations

import sys
from typing import Any

USERNAME = "piccolo"
PASSWORD = "piccolo123"  # the demo's published test login (piccolo_admin/example/tables.py)


def _step(name: str, fn: Any) -> None:
    """Run one UI step; a step the UI does not offer is reported and skipped, never fatal."""
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - a drive script keeps going; the report says why
        first = str(exc).splitlines()[0][:160] if str(exc) else ""
        print(f"drive: step {name!r} skipped: {type(exc).__name__}: {first}", file=sys.stderr)


def drive(page: Any) -> None:
    """Use the admin UI for a few minutes' worth of ordinary work."""
    page.on("dialog", lambda d: d.accept())
    page.set_default_timeout(4000)
    page.wait_for_selector("input[name=username]")
    page.fill("input[name=username]", USERNAME)
    page.fill("input[type=password]", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_selector("a[href='#/movie/']")
    settle = lambda: page.wait_for_timeout(900)  # noqa: E731

    base = page.url.split("#", 1)[0]

    def open_table(table: str) -> None:
        page.goto(f"{base}#/{table}/")
        settle()

    tables = (
        "movie",
        "director",
        "studio",
        "ticket",
        "choices",
        "array_columns",
        "date_time_columns",
    )
    for table in tables:
        _step(f"list {table}", lambda t=table: open_table(t))

    def open_rows(table: str, ids: tuple[int, ...]) -> None:
        open_table(table)
        for row in ids:
            page.click(f"a[href='#/{table}/{row}/']")
            settle()
            page.go_back()
            settle()

    _step("open movies", lambda: open_rows("movie", (1, 2, 7)))
    _step("open directors", lambda: open_rows("director", (1, 3)))

    def edit_director() -> None:
        open_table("director")
        page.click("a[href='#/director/2/']")
        settle()
        page.fill("input[name=name]", "George Walton Lucas")
        page.click("button:has-text('Save')")
        settle()

    _step("edit director", edit_director)

    def edit_movie() -> None:
        open_table("movie")
        page.click("a[href='#/movie/2/']")
        settle()
        page.fill("input[name=name]", "The Empire Strikes Back (1980)")
        page.click("button:has-text('Save')")
        settle()

    _step("edit movie", edit_movie)

    def add_director(name: str) -> None:
        page.goto(f"{base}#/director/add/")
        settle()
        page.fill("input[name=name]", name)
        page.click("button:has-text('Save')")
        settle()

    _step("add director", lambda: add_director("Agnès Varda"))
    _step("add director 2", lambda: add_director("Chantal Akerman"))

    def delete_last_director() -> None:
        open_table("director")
        page.click("a:has-text('Sort')")
        settle()
        rows = page.locator("table tbody tr")
        last = rows.nth(rows.count() - 1)
        last.locator("a:has(svg), a.delete, [title*=elete]").last.click()
        settle()
        page.locator("a:has-text('Delete'), button:has-text('Delete')").first.click()
        settle()

    _step("delete director", delete_last_director)

    def filter_movies(text: str) -> None:
        open_table("movie")
        page.click("a:has-text('Show filters')")
        settle()
        page.fill("form input[name=name]", text)
        page.click("button:has-text('Filter'), button:has-text('Apply'), button:has-text('Search')")
        settle()

    _step("filter movies", lambda: filter_movies("Star"))
    _step("filter movies 2", lambda: filter_movies("Lord"))

    def page_movies() -> None:
        open_table("movie")
        page.click("a:has-text('2')")
        settle()

    _step("top movies link", lambda: (page.click("a:has-text('Top Movies')"), settle()))
    _step("movies page 2", page_movies)

    def calculator() -> None:
        page.goto(f"{base}#/forms/calculator/")
        settle()
        inputs = page.locator("form input[type=number], form input[type=text]")
        for i in range(inputs.count()):
            inputs.nth(i).fill(str(3 + i))
        page.click("button:has-text('Submit')")
        settle()

    _step("calculator form", calculator)

    def booking() -> None:
        page.goto(f"{base}#/forms/booking-form/")
        settle()
        page.fill("form input[name=name]", "Ada Lovelace")
        page.fill("form input[name=email]", "ada@example.org")
        page.click("button:has-text('Submit')")
        settle()

    _step("booking form", booking)
    _step("home", lambda: (page.goto(f"{base}#/"), settle()))
