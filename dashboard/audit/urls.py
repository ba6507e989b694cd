"""The audit trail: who did what, when, to which object."""

from django.urls import path

from dashboard.audit import views

urlpatterns = [
    path("", views.index, name="audit"),
]
