from django.urls import path

from dashboard.queue import views

urlpatterns = [
    path("", views.index, name="queue"),
]
