from django.urls import path

from dashboard.bulk import views

urlpatterns = [
    path("", views.start, name="bulk_start"),
    path("<int:operation_id>/", views.progress, name="bulk"),
]
