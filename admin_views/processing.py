"""Settings → Record of processing: what personal data is held, why, who sees it, where it goes, how long (PDPL)."""
from flask_admin import expose

from services import processing

from .base import SecureView


class ProcessingView(SecureView):
    capability = "processing.read"

    @expose("/")
    def index(self):
        return self.render("admin/processing.html", entries=processing.record(), tabs=processing.mirror_tabs())
