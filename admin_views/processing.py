"""Settings → Record of processing: what personal data is held, why, who sees it, where it goes, how long (PDPL)."""
from flask_admin import expose

from services import processing
from sync import rows

from .base import SecureView


class ProcessingView(SecureView):
    capability = "processing.read"

    @expose("/")
    def index(self):
        # The mirror's columns are the sync's to say; the record of processing lists those carrying personal data.
        return self.render("admin/processing.html", entries=processing.record(rows.TABLES),
                           tabs=processing.mirror_tabs(rows.TABLES))
