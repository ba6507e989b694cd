from django.urls import path

from dashboard.trains import views

urlpatterns = [
    path("", views.index, name="trains"),
]
