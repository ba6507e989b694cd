from django.urls import path

from dashboard.runtime_settings import views

urlpatterns = [
    path("", views.index, name="settings"),
]
