from django.urls import path

from dashboard.processes import views

urlpatterns = [
    path("", views.index, name="processes"),
]
