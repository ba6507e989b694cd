from django.urls import path

from dashboard.schedules import views

urlpatterns = [
    path("", views.index, name="schedules"),
]
