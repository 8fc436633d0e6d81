"""Load time of a recon report.html in headless Chromium (Playwright), 5 loads.

Usage: PYTHON benches/scale/report_render.py /abs/path/to/report.html
(PYTHON: a virtualenv with playwright, e.g. the .venv that scripts/test.sh creates.)
"""
import sys, time
from playwright.sync_api import sync_playwright
path = sys.argv[1]
with sync_playwright() as p:
    b = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--headless","--no-sandbox","--disable-gpu","--no-first-run","--disable-background-networking","--disable-component-update","--disable-sync"])
    times=[]
    for i in range(5):
        pg = b.new_page()
        t = time.time()
        pg.goto("file://" + path, wait_until="load")
        times.append(time.time() - t)
        pm = pg.evaluate("JSON.stringify(performance.getEntriesByType('navigation')[0].toJSON())")
        pg.close()
    print("load s:", [round(x,3) for x in times], "median", sorted(times)[2])
    print(pm[:400])
    b.close()
