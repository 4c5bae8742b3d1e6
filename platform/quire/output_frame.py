"""The page that HTML and JavaScript outputs run in: a sandboxed frame with no origin of its own.

The notebook page puts each such output in `<iframe sandbox="allow-scripts" src="/output-frame/">` and sends
it the output's HTML by postMessage; the frame writes it into itself, so its scripts run in order as on a page
of their own, under an opaque origin: no cookies, no storage, no reach into the notebook page. The frame's own
policy (below, with `sandbox` again for a frame opened directly) lets those scripts and their styles,
images and fonts load, and nothing else; the notebook page's policy is untouched.
"""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET

FRAME_CONTENT_SECURITY_POLICY = "; ".join(
    [
        "sandbox allow-scripts",
        "default-src 'none'",
        # Outputs (plotly, bokeh) carry inline scripts and may load their libraries from elsewhere.
        "script-src 'unsafe-inline' 'unsafe-eval' data: blob: https:",
        "style-src 'unsafe-inline' data: https:",
        "img-src data: blob: https:",
        "font-src data: https:",
        "media-src data: blob:",
        "frame-ancestors 'self'",
    ]
)

# Sent to the notebook page whenever the output's height changes, so its frame fits it. The output is written in
# standards mode (as Jupyter's page shows it), where the root element is as tall as what it holds, and the body's
# scroll height counts what overflows it; the root's scroll height would never be less than the frame's own.
_HEIGHT_REPORTER = (
    "<!doctype html><script>(function(){var last=-1;function report(){var h=Math.ceil(Math.max("
    "document.documentElement.getBoundingClientRect().height,document.body?document.body.scrollHeight:0));"
    "if(h!==last){last=h;parent.postMessage({quireFrameHeight:h},'*');}}"
    "new ResizeObserver(report).observe(document.documentElement);addEventListener('load',report);})();</script>"
)

# A JavaScript string inside an inline script: "</" would end the script element early.
_REPORTER_JS = json.dumps(_HEIGHT_REPORTER).replace("</", "<\\/")

FRAME_HTML = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Output</title></head><body><script>
(function () {{
  var written = false;
  addEventListener('message', function (event) {{
    var data = event.data;
    if (written || event.source !== parent || !data || typeof data.quireOutputHtml !== 'string') return;
    written = true;
    document.open();
    document.write({_REPORTER_JS} + data.quireOutputHtml);
    document.close();
  }});
}})();
</script></body></html>
"""


@require_GET
@xframe_options_sameorigin
def output_frame(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(FRAME_HTML, content_type="text/html; charset=utf-8")
    response["Content-Security-Policy"] = FRAME_CONTENT_SECURITY_POLICY
    response["Cache-Control"] = "public, max-age=3600"
    return response
